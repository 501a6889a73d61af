/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * uAPI of vd_test_importer, the selftests' dma-buf importer: a dynamic
 * importer (move_notify) that maps and unmaps on request and counts what
 * happened to it. Each open file of /dev/vd_test_importer is one importer.
 */
#ifndef _UAPI_VD_TEST_IMPORTER_H
#define _UAPI_VD_TEST_IMPORTER_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Don't unmap in move_notify: wait for VDTI_UNMAP, as a slow importer would. */
#define VDTI_LAZY	0x1U
/* Attach without allow_peer2peer. */
#define VDTI_NO_P2P	0x2U

struct vdti_attach {
	__s32 fd;		/* dma-buf */
	__u32 flags;		/* VDTI_* */
};

struct vdti_status {
	__u32 mapped;		/* holds an sg table now */
	__u32 nents;		/* of the last map */
	__u64 dma_len;		/* bytes the last map covered */
	__u64 max_seg;		/* its longest segment */
	__u32 maps;		/* successful maps */
	__u32 unmaps;
	__u32 move_notifies;
	__u32 invalidated;	/* move_notify came while mapped */
	/*
	 * move_notify came while mapped, but the watched device (VDTI_WATCH)
	 * already had memory decode off or was out of D0: the BAR went away
	 * before the importer was told.
	 */
	__u32 late_notifies;
	__u32 pinned;		/* holds a pin of its own now (VDTI_PIN) */
};

/* The exporter's PCI device, for late_notifies. */
struct vdti_watch {
	__u32 domain;
	__u32 bus;
	__u32 devfn;
	__u32 pad;
};

/* Each returns 0 or -1 with errno; VDTI_MAP returns the number of segments. */
#define VDTI_ATTACH	_IOW('V', 0xd0, struct vdti_attach)
#define VDTI_MAP	_IO('V', 0xd1)
#define VDTI_UNMAP	_IO('V', 0xd2)
#define VDTI_STATUS	_IOR('V', 0xd3, struct vdti_status)
#define VDTI_WATCH	_IOW('V', 0xd4, struct vdti_watch)
/*
 * dma_buf_pin() and dma_buf_unpin() the attachment, as an importer that
 * pins does. EBUSY: already pinned; ENOENT: not pinned.
 */
#define VDTI_PIN	_IO('V', 0xd5)
#define VDTI_UNPIN	_IO('V', 0xd6)

#endif /* _UAPI_VD_TEST_IMPORTER_H */
