/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VFIO_PCI_DMABUF_H
#define VFIO_PCI_DMABUF_H

#include <linux/completion.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/vfio_pci_core.h>

/* One per bound PCI device. */
struct vdb_device {
	struct vfio_pci_core_device core;

	/*
	 * The dma-bufs exported from this device, and the revoke state of
	 * each. See the lock order at the top of dmabuf.c.
	 */
	struct mutex dmabufs_lock;
	struct list_head dmabufs;
	/*
	 * One per dma-buf that still points at this device, plus the
	 * device's own, which remove() drops before it waits for
	 * exports_done.
	 */
	refcount_t nr_exports;
	struct completion exports_done;
};

static inline struct vdb_device *vdb_from_core(struct vfio_pci_core_device *vdev)
{
	return container_of(vdev, struct vdb_device, core);
}

void vdb_dmabuf_init(struct vdb_device *vdb);
int vdb_feature_dma_buf(struct vdb_device *vdb, u32 flags, void __user *arg,
			size_t argsz);
void vdb_dmabuf_close(struct vdb_device *vdb);
void vdb_dmabuf_wait_gone(struct vdb_device *vdb);

#endif /* VFIO_PCI_DMABUF_H */
