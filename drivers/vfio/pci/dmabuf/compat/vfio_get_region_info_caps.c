// SPDX-License-Identifier: GPL-2.0
/* REGION_INFO moved to its own vfio_device_ops callback in 6.19. */
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

const struct vfio_device_ops vd_probe_ops = {
	.get_region_info_caps = vfio_pci_ioctl_get_region_info,
};
