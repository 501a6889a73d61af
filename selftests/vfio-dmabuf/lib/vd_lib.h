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
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <linux/vfio.h>
#include <linux/vfio_dmabuf.h>
#include <linux/edu_p2p.h>

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

/* Bind @bdf to @driver through driver_override. 0 or -errno. */
int vd_bind(const char *bdf, const char *driver);
/* Unbind @bdf from its driver (blocks while the driver holds on). */
int vd_unbind(const char *bdf);

/* An unbind running on a thread of its own, for tests of what it waits for. */
struct vd_unbinder {
	char bdf[32];
	pthread_t thread;
	int ret;		/* vd_unbind()'s result, once done */
	atomic_int done;
};

int vd_unbind_start(struct vd_unbinder *u, const char *bdf);
/* Wait up to @ms for it: 1 when it finished (and is joined), else 0. */
int vd_unbind_wait(struct vd_unbinder *u, int ms);

/* Open @bdf through /dev/vfio/vfio + its group, type1 IOMMU. 0 or -errno. */
int vd_open_group(struct vd_dev *d, const char *bdf);
void vd_close(struct vd_dev *d);

int vd_region_info(struct vd_dev *d, uint32_t index, struct vfio_region_info *ri);

/*
 * VFIO_DEVICE_FEATURE with a payload: returns the ioctl's result (for
 * DMA_BUF GET, the new fd), or -1 with errno set.
 */
int vd_feature(int fd, uint32_t flags, const void *data, size_t size);
/* The same, claiming @argsz bytes in all while passing all of @data. */
int vd_feature_argsz(int fd, uint32_t flags, const void *data, size_t size,
		     uint32_t argsz);

/*
 * Export @nr ranges of @region as a dma-buf. @argsz_delta is added to the
 * argsz the call would normally pass; the payload itself is always whole, so
 * a short argsz shows whether the kernel reads past it. Returns the fd, or
 * -1 with errno set.
 */
int vd_export(int fd, uint32_t region, uint32_t open_flags, uint32_t flags,
	      const struct vfio_region_dma_range *r, uint32_t nr, int argsz_delta);

/* True when the driver under test is mainline vfio-pci (our reference). */
int vd_is_mainline(void);
/* The module that owns the dma-bufs: vfio_pci_dmabuf, or vfio_pci_core. */
const char *vd_exporter_module(void);
/* /sys/module/NAME/refcnt, or -errno. */
int vd_module_refcnt(const char *name);
/* Value of KEY in /proc/self/fdinfo/FD, into @val. 0 or -errno. */
int vd_fdinfo(int fd, const char *key, char *val, size_t len);
/* vfio-pci-dmabuf's debugfs file for @bdf, open for reading; NULL + errno. */
FILE *vd_dbg_open(const char *bdf);
/*
 * From vfio-pci-dmabuf's debugfs file for @bdf: the count named @trigger
 * on the line starting with @kind ("revokes", "regrants", "holds"); -1 if
 * there is no such file or count.
 */
long vd_dbg_count(const char *bdf, const char *kind, const char *trigger);
/* The "exports" line of that file: dma-bufs pointing at the device; -1. */
long vd_dbg_exports(const char *bdf);
/* Set or clear PCI_COMMAND_MEMORY through the config region. 0 or -errno. */
int vd_set_memory_enable(struct vd_dev *d, int on);
/*
 * Record the outcome of a bad-input export for the errno table the host
 * builds from every kernel: @ret is vd_export()'s result, errno as it left it.
 */
void vd_errno_row(const char *input, int ret);

/* Record what a revoke trigger did, for the trigger table in docs/. */
void vd_trigger_row(const char *trigger, const char *outcome);

/* Seed 0: bytes never written, zeroes in a fresh ivshmem backing file. */
#define VD_ZEROES	0
/* Deterministic byte pattern; the host regenerates it from the seed. */
void vd_pattern(void *buf, size_t len, uint32_t seed);
/*
 * Ask the host to check, after the guest stops, that the ivshmem backing file
 * holds vd_pattern(len, seed) at @offset of BAR2. 0 or -errno.
 */
int vd_host_expect(const char *what, uint64_t offset, uint64_t len, uint32_t seed);

/* Helpers of the hostile tests: fuzz, stress, fail_nth. */

/* How many file descriptors this process has open, or -errno. */
int vd_open_fds(void);
/*
 * How many dma-bufs exported by @exp_name exist now, from the dma-buf
 * core's /sys/kernel/debug/dma_buf/bufinfo; -errno without debugfs.
 */
int vd_dmabuf_count(const char *exp_name);
/* Write @val to the file @path (sysfs, debugfs, procfs). 0 or -errno. */
int vd_write_file(const char *path, const char *val);
/* Read the first line of @path into @buf, newline cut. 0 or -errno. */
int vd_read_file(const char *path, char *buf, size_t len);
/*
 * Whether a dma-buf can still be imported: vd_test_importer attaches, maps
 * and unmaps it. The number of segments mapped, or -errno (-ENOENT without
 * the importer).
 */
int vd_importer_roundtrip(int dmabuf);
/* edu-p2p: one transfer (EDU_P2P_WRITE or _READ) of the imported window. */
int vd_edu_xfer(int edu, unsigned long cmd, uint64_t off, void *buf, uint64_t len);
/* edu-p2p's status; zeroes if the ioctl fails. */
struct edu_p2p_status vd_edu_status(int edu);
/*
 * A new device fd for @d->bdf from its open group into @d->fd (closing the
 * old one first, if any). 0 or -errno.
 */
int vd_reopen_device(struct vd_dev *d);

/*
 * A page whose first touch stalls until the test lets it go: the last page
 * of an anonymous mapping of @pages pages, registered with userfaultfd.
 * Touched from the kernel (copy_to_user, copy_from_user, get_user), it holds
 * that kernel path at the touch: the tests use it to stretch the windows
 * that races need.
 */
struct vd_stall {
	int uffd;
	char *map;		/* @pages pages; the others are ordinary */
	char *page;		/* the stalling page, the last one */
	size_t pages;
};

int vd_stall_init(struct vd_stall *s, size_t pages);
/* Wait up to @ms for a touch of the page: 1 when one is stalled, else 0. */
int vd_stall_wait(struct vd_stall *s, int ms);
/* Fill the page with @content (a page, or NULL for zeroes) and let go. */
int vd_stall_release(struct vd_stall *s, const void *content);
void vd_stall_fini(struct vd_stall *s);

#endif /* VD_LIB_H */
