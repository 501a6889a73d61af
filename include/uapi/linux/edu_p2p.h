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
 * How the importer holds its mapping: the ways RDMA drivers import dma-bufs.
 *  DYNAMIC: like a driver with on-demand paging (mlx5 ODP). It attaches with
 *    move_notify, maps on first use, drops the mapping when the exporter
 *    invalidates it, and maps again on the next transfer.
 *  PINNED: like efa or bnxt_re. It pins and maps once at import and keeps
 *    the mapping until release; it cannot be revoked. Exporters that must
 *    revoke (vfio-pci-dmabuf, mainline vfio-pci) refuse it: EOPNOTSUPP.
 *  PINNED_REVOCABLE: pins and maps once; when the exporter invalidates, it
 *    unmaps and unpins for good (transfers fail with ENODEV until the
 *    dma-buf is imported again). Mainline accepts it; 6.x gives an exporter
 *    no way to tell it from PINNED, so vfio-pci-dmabuf refuses both.
 *  IB_UMEM: ib_core's own importer, ib_umem_dmabuf_get_pinned_with_dma_device(),
 *    for the RDMA device on @rdma_netdev, with this edu as the DMA device.
 *    Pinned, so refused by revoking exporters like PINNED.
 * A mode this build lacks fails with EPROTONOSUPPORT; edu_p2p_status.modes
 * lists the ones it has.
 */
#define EDU_P2P_DYNAMIC		0
#define EDU_P2P_PINNED		1
#define EDU_P2P_PINNED_REVOCABLE 2
#define EDU_P2P_IB_UMEM		3
#define EDU_P2P_NR_MODES	4

struct edu_p2p_import {
	__s32 fd;		/* the dma-buf */
	__u32 mode;		/* EDU_P2P_* */
	__u64 offset;		/* start of the window imported, in the dma-buf */
	__u64 length;		/* length of the window; 0: up to the end */
	char rdma_netdev[16];	/* IB_UMEM: the netdev of the RDMA device */
};

/* Transfers address the imported window: offset 0 is its first byte. */
struct edu_p2p_xfer {
	__u64 offset;
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
	__u32 modes;		/* bit N set: mode N is supported */
	__u32 pinned;		/* holds a pin now */
};

#define EDU_P2P_IMPORT	_IOW('E', 0x01, struct edu_p2p_import)
/* user memory -> dma-buf */
#define EDU_P2P_WRITE	_IOW('E', 0x02, struct edu_p2p_xfer)
/* dma-buf -> user memory */
#define EDU_P2P_READ	_IOW('E', 0x03, struct edu_p2p_xfer)
#define EDU_P2P_STATUS	_IOR('E', 0x04, struct edu_p2p_status)

#endif /* _UAPI_LINUX_EDU_P2P_H */
