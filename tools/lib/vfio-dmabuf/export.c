// SPDX-License-Identifier: GPL-2.0-only
/* libvfio-dmabuf: VFIO_DEVICE_FEATURE_DMA_BUF, the export. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <vfio-dmabuf/vd.h>

int vd_feature_argsz(int fd, uint32_t flags, const void *data, size_t size,
		     uint32_t argsz)
{
	struct vfio_device_feature *f;
	int ret;

	f = calloc(1, sizeof(*f) + size);
	if (!f)
		return -ENOMEM;
	f->argsz = argsz;
	f->flags = flags;
	if (size)
		memcpy(f->data, data, size);
	ret = ioctl(fd, VFIO_DEVICE_FEATURE, f);
	if (ret < 0)
		ret = -errno;
	free(f);
	return ret;
}

int vd_feature(int fd, uint32_t flags, const void *data, size_t size)
{
	return vd_feature_argsz(fd, flags, data, size,
				sizeof(struct vfio_device_feature) + size);
}

int vd_export(int fd, uint32_t region, uint32_t open_flags, uint32_t flags,
	      const struct vfio_region_dma_range *r, uint32_t nr, int argsz_delta)
{
	size_t ranges = (size_t)nr * sizeof(*r), size, alloc;
	struct vfio_device_feature_dma_buf *db;
	int ret;

	/* A huge nr is a test of the kernel: pass what fits in the buffer. */
	if (ranges > 1 << 20)
		ranges = 1 << 20;
	size = sizeof(*db) + ranges;
	/* a longer argsz passes zeroes past the last range */
	alloc = size + (argsz_delta > 0 ? argsz_delta : 0);
	db = calloc(1, alloc);
	if (!db)
		return -ENOMEM;
	db->region_index = region;
	db->open_flags = open_flags;
	db->flags = flags;
	db->nr_ranges = nr;
	if (r)
		memcpy(db->dma_ranges, r, ranges);
	ret = vd_feature_argsz(fd, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF,
			       db, alloc, sizeof(struct vfio_device_feature) + size + argsz_delta);
	free(db);
	return ret;
}

int vd_export_probe(int fd)
{
	return vd_feature(fd, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET |
			  VFIO_DEVICE_FEATURE_DMA_BUF, NULL, 0);
}

const char *vd_export_why(int err)
{
	switch (err) {
	case ENOTTY:
		return "the driver has no dma-buf export: bind the device to "
		       VD_DRIVER ", or use a kernel with native support (6.19+)";
	case EINVAL:
		return "not a memory BAR, or a BAR smaller than a page, or a range that "
		       "is empty, not page aligned or past the BAR's end";
	case ENODEV:
		return "no such BAR, or the BAR is empty";
	case EOVERFLOW:
		return "a range's offset + length overflows";
	case ENOMEM:
		return "out of memory";
	default:
		return "";
	}
}
