/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * VFIO_DEVICE_FEATURE_DMA_BUF for kernels whose <linux/vfio.h> lacks it.
 *
 * The number and both structures are the ones mainline Linux (6.19+)
 * defines, byte for byte, so one VMM binary works on our variant driver and
 * on mainline vfio-pci. When the system's <linux/vfio.h> already defines the
 * feature, this header adds nothing.
 *
 * VFIO_DEVICE_FEATURE_GET on feature 11 creates a dma-buf for ranges of one
 * PCI BAR and returns its fd as the ioctl's result:
 *
 *   region_index  the BAR (VFIO_PCI_BAR0_REGION_INDEX..BAR5); must be an MMIO
 *                 BAR that vfio-pci can map
 *   open_flags    open(2) flags for the new fd: O_CLOEXEC, O_RDWR, ...
 *   flags         must be 0
 *   nr_ranges     entries in dma_ranges[], at least 1
 *   dma_ranges    page-aligned, non-empty {offset, length} slices of the
 *                 BAR, in the order the dma-buf lays them out
 *
 * VFIO_DEVICE_FEATURE_PROBE with VFIO_DEVICE_FEATURE_GET returns 0 when the
 * device can export. The errno of each bad input is listed in README.md.
 */
#ifndef _UAPI_LINUX_VFIO_DMABUF_H
#define _UAPI_LINUX_VFIO_DMABUF_H

#include <linux/types.h>
#include <linux/vfio.h>

#ifndef VFIO_DEVICE_FEATURE_DMA_BUF
#define VFIO_DEVICE_FEATURE_DMA_BUF 11

struct vfio_region_dma_range {
	__u64 offset;
	__u64 length;
};

struct vfio_device_feature_dma_buf {
	__u32 region_index;
	__u32 open_flags;
	__u32 flags;
	__u32 nr_ranges;
	struct vfio_region_dma_range dma_ranges[];
};
#endif /* VFIO_DEVICE_FEATURE_DMA_BUF */

#endif /* _UAPI_LINUX_VFIO_DMABUF_H */
