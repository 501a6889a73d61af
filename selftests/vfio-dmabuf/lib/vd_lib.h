/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the vfio-dmabuf selftests: open a VFIO device through the
 * group/container path, look at regions, and leave byte patterns for the
 * host to verify in the ivshmem backing file.
 *
 * Environment (set by the guest runner, defaults for a q35 rig guest):
 *   VD_BDF       the device under test (default: the first ivshmem, 1af4:1110)
 *   VD_DRIVER    the driver it must be bound to (vfio-pci-dmabuf or vfio-pci)
 *   VD_OUT       where results for the host go (host-verify.txt)
 */
#ifndef VD_LIB_H
#define VD_LIB_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/vfio.h>
#include <linux/vfio_dmabuf.h>

#define VD_IVSHMEM_BAR	VFIO_PCI_BAR2_REGION_INDEX

struct vd_dev {
	char bdf[32];
	int container;
	int group;
	int fd;
};

/* Fill @bdf with the device under test. 0 or -errno. */
int vd_find_bdf(char *bdf, size_t len);
/* The driver the device must be bound to: $VD_DRIVER, else vfio-pci-dmabuf. */
const char *vd_expected_driver(void);
/* Name of the driver @bdf is bound to, "" if none. */
int vd_bound_driver(const char *bdf, char *name, size_t len);

/* Open @bdf through /dev/vfio/vfio + its group, type1 IOMMU. 0 or -errno. */
int vd_open_group(struct vd_dev *d, const char *bdf);
void vd_close(struct vd_dev *d);

int vd_region_info(struct vd_dev *d, uint32_t index, struct vfio_region_info *ri);

/*
 * VFIO_DEVICE_FEATURE with a payload: returns the ioctl's result (for
 * DMA_BUF GET, the new fd), or -1 with errno set.
 */
int vd_feature(int fd, uint32_t flags, const void *data, size_t size);

/*
 * Export @nr ranges of @region as a dma-buf. @argsz_delta is added to the
 * argsz the call would normally pass (negative: short buffer). Returns the
 * fd, or -1 with errno set.
 */
int vd_export(int fd, uint32_t region, uint32_t open_flags, uint32_t flags,
	      const struct vfio_region_dma_range *r, uint32_t nr, int argsz_delta);

/* Deterministic byte pattern; the host regenerates it from the seed. */
void vd_pattern(void *buf, size_t len, uint32_t seed);
/*
 * Ask the host to check, after the guest stops, that the ivshmem backing file
 * holds vd_pattern(len, seed) at @offset of BAR2. 0 or -errno.
 */
int vd_host_expect(const char *what, uint64_t offset, uint64_t len, uint32_t seed);

#endif /* VD_LIB_H */
