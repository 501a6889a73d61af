// SPDX-License-Identifier: GPL-2.0-only
/*
 * libvfio-dmabuf: iommufd, as a VMM drives it: an IOAS (an I/O address
 * space every device attached to it shares), user memory and files mapped
 * into it, and unmapped again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <vfio-dmabuf/vd.h>

/*
 * The iommufd uAPI (<linux/iommufd.h>), spelled out: the 6.1 headers
 * userspace builds against here lack it, and IOMMU_IOAS_MAP_FILE came with
 * 6.13 (a dma-buf with 6.19). The kernel tells sizes apart by @size.
 */
#define VD_IOMMUFD_TYPE		';'

struct vd_ioas_alloc {
	uint32_t size, flags, out_ioas_id;
};

#define VD_IOMMU_IOAS_ALLOC	_IO(VD_IOMMUFD_TYPE, 0x81)

struct vd_ioas_map {
	uint32_t size, flags, ioas_id, __reserved;
	uint64_t user_va, length, iova;
};

#define VD_IOMMU_IOAS_MAP	_IO(VD_IOMMUFD_TYPE, 0x85)

struct vd_ioas_unmap {
	uint32_t size, ioas_id;
	uint64_t iova, length;
};

#define VD_IOMMU_IOAS_UNMAP	_IO(VD_IOMMUFD_TYPE, 0x86)

struct vd_ioas_map_file {
	uint32_t size, flags, ioas_id;
	int32_t fd;
	uint64_t start, length, iova;
};

#define VD_IOMMU_IOAS_MAP_FILE	_IO(VD_IOMMUFD_TYPE, 0x8f)

int vd_iommufd_open(void)
{
	int fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int vd_ioas_alloc(int iommufd, uint32_t *ioas_id)
{
	struct vd_ioas_alloc a = { .size = sizeof(a) };

	if (ioctl(iommufd, VD_IOMMU_IOAS_ALLOC, &a))
		return -errno;
	*ioas_id = a.out_ioas_id;
	return 0;
}

int vd_ioas_map_user(int iommufd, uint32_t ioas_id, uint64_t *iova, uint32_t flags,
		     void *va, uint64_t len)
{
	struct vd_ioas_map m = {
		.size = sizeof(m), .flags = flags, .ioas_id = ioas_id,
		.user_va = (uintptr_t)va, .length = len, .iova = *iova,
	};

	if (ioctl(iommufd, VD_IOMMU_IOAS_MAP, &m))
		return -errno;
	*iova = m.iova;
	return 0;
}

int vd_ioas_map_file(int iommufd, uint32_t ioas_id, uint64_t *iova, uint32_t flags,
		     int fd, uint64_t start, uint64_t len)
{
	struct vd_ioas_map_file m = {
		.size = sizeof(m), .flags = flags, .ioas_id = ioas_id, .fd = fd,
		.start = start, .length = len, .iova = *iova,
	};

	if (ioctl(iommufd, VD_IOMMU_IOAS_MAP_FILE, &m))
		return -errno;
	*iova = m.iova;
	return 0;
}

int vd_ioas_unmap(int iommufd, uint32_t ioas_id, uint64_t iova, uint64_t len, uint64_t *unmapped)
{
	struct vd_ioas_unmap u = {
		.size = sizeof(u), .ioas_id = ioas_id, .iova = iova, .length = len,
	};

	if (ioctl(iommufd, VD_IOMMU_IOAS_UNMAP, &u))
		return -errno;
	if (unmapped)
		*unmapped = u.length;
	return 0;
}
