/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VFIO_PCI_DMABUF_H
#define VFIO_PCI_DMABUF_H

#include <linux/vfio_pci_core.h>

/* One per bound PCI device. */
struct vdb_device {
	struct vfio_pci_core_device core;
};

#endif /* VFIO_PCI_DMABUF_H */
