// SPDX-License-Identifier: GPL-2.0
/* vfio_device_ops iommufd callbacks for physical devices (6.6+ set). */
#include <linux/vfio.h>

const struct vfio_device_ops vd_probe_ops = {
	.bind_iommufd	= vfio_iommufd_physical_bind,
	.unbind_iommufd	= vfio_iommufd_physical_unbind,
	.attach_ioas	= vfio_iommufd_physical_attach_ioas,
	.detach_ioas	= vfio_iommufd_physical_detach_ioas,
};
