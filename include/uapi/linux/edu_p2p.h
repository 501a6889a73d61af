/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * edu-p2p: QEMU's edu DMA engine as a dma-buf importer, playing the part of
 * an RDMA NIC: it imports a dma-buf (e.g. a VFIO BAR export) and moves bytes
 * between user memory and the dma-buf with its own DMA engine.
 *
 * Each open file of /dev/edu-p2p is one importer. Transfers return 0 or -1
 * with errno: ENODEV while the exporter has revoked the dma-buf (retry once
 * it is back), EINVAL for a range outside the dma-buf.
 */
#ifndef _UAPI_LINUX_EDU_P2P_H
#define _UAPI_LINUX_EDU_P2P_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * How the importer holds its mapping.
 *  DYNAMIC: like an RDMA driver with on-demand paging. It attaches with
 *    move_notify, maps on first use, drops the mapping when the exporter
 *    invalidates it, and maps again on the next transfer.
 */
#define EDU_P2P_DYNAMIC		0

struct edu_p2p_import {
	__s32 fd;		/* the dma-buf */
	__u32 mode;		/* EDU_P2P_* */
};

struct edu_p2p_xfer {
	__u64 offset;		/* into the dma-buf */
	__u64 len;
	__u64 buf;		/* user address */
};

struct edu_p2p_status {
	__u32 mode;
	__u32 mapped;		/* holds a mapping now */
	__u64 maps;		/* mappings made */
	__u64 invalidations;	/* move_notify calls */
	__u64 revoked;		/* transfers refused with ENODEV */
	__u64 dma_bytes;	/* bytes moved by the DMA engine */
};

#define EDU_P2P_IMPORT	_IOW('E', 0x01, struct edu_p2p_import)
/* user memory -> dma-buf */
#define EDU_P2P_WRITE	_IOW('E', 0x02, struct edu_p2p_xfer)
/* dma-buf -> user memory */
#define EDU_P2P_READ	_IOW('E', 0x03, struct edu_p2p_xfer)
#define EDU_P2P_STATUS	_IOR('E', 0x04, struct edu_p2p_status)

#endif /* _UAPI_LINUX_EDU_P2P_H */
