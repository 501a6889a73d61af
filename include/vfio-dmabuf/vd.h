/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libvfio-dmabuf: what every userspace program of this project does with a
 * VFIO device and its dma-bufs. The command line tool, the demo, the bench
 * and the selftests all link it (tools/lib/vfio-dmabuf/).
 *
 * Every call that returns an int or a long returns 0 (or a count, a file
 * descriptor) on success and -errno on failure; the few that return
 * something else say so. None prints, none exits. Where opening a device
 * fails, struct vd_dev's @step says which step, for the caller's message.
 */
#ifndef VFIO_DMABUF_VD_H
#define VFIO_DMABUF_VD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/vfio.h>
#include <linux/vfio_dmabuf.h>
#include <linux/edu_p2p.h>
#include <linux/vd_test_importer.h>

#define VD_DRIVER	"vfio-pci-dmabuf"	/* our variant driver */
#define VD_BDF_LEN	32

/* --- sysfs: PCI devices and their drivers (sysfs.c) --- */

/* Whether @bdf is spelled domain:bus:dev.fn (0000:01:00.0). */
int vd_bdf_valid(const char *bdf);
/* Whether /sys/bus/pci/devices/@bdf exists. */
int vd_pci_exists(const char *bdf);
/* The first device with @vendor:@device into @bdf; -ENODEV if none. */
int vd_pci_find(unsigned int vendor, unsigned int device, char *bdf, size_t len);
/* The driver @bdf is bound to into @name, "" if none. */
int vd_bound_driver(const char *bdf, char *name, size_t len);
/* The number of @bdf's IOMMU group; -ENOENT without an IOMMU. */
int vd_iommu_group(const char *bdf);
/*
 * Bind @bdf to @driver through driver_override (it must be unbound, or
 * bound to @driver already). -ENODEV when @driver did not take it.
 */
int vd_bind(const char *bdf, const char *driver);
/* Unbind @bdf from its driver; blocks while the driver holds on. */
int vd_unbind(const char *bdf);
/* Clear driver_override and let the ID tables match again. */
int vd_unoverride(const char *bdf);
/* Write @val to the file @path (sysfs, debugfs, procfs). */
int vd_write_file(const char *path, const char *val);
/* The same, opened with @flags too (O_APPEND, O_TRUNC). */
int vd_write_file_flags(const char *path, const char *val, int flags);
/* The first line of @path into @buf, newline cut; -ENODATA if empty. */
int vd_read_file(const char *path, char *buf, size_t len);

/* --- a VFIO device (device.c) --- */

struct vd_dev {
	char bdf[VD_BDF_LEN];
	int container;		/* group path: /dev/vfio/vfio, or -1 */
	int group;		/* group path: /dev/vfio/N, or -1 */
	int iommufd;		/* cdev path: the /dev/iommu it owns, or -1 */
	int fd;			/* the device */
	__u64 cfg_offset;	/* of the config region, set at the first config access */
	const char *step;	/* on failure, what failed */
};

/* Open @bdf through /dev/vfio/vfio and its group, type1 IOMMU. */
int vd_open_group(struct vd_dev *d, const char *bdf);
/*
 * Open @bdf through its cdev (/dev/vfio/devices/vfioN) bound to a new
 * iommufd, attached to a fresh IOAS, as a VMM on iommufd does. The iommufd
 * is @d's: vd_close() closes it. Several devices in one IOAS:
 * vd_open_cdev_in().
 */
int vd_open_cdev(struct vd_dev *d, const char *bdf);
/* Close what is open; a zeroed struct vd_dev holds nothing. */
void vd_close(struct vd_dev *d);
/* A new device fd from the open group into @d->fd, the old one closed. */
int vd_reopen_device(struct vd_dev *d);
int vd_region_info(struct vd_dev *d, uint32_t index, struct vfio_region_info *ri);
/* @len bytes of config space at @off through the config region. */
int vd_cfg_read(struct vd_dev *d, unsigned int off, void *buf, size_t len);
int vd_cfg_write(struct vd_dev *d, unsigned int off, const void *buf, size_t len);
/* Offset of standard capability @id (PCI_CAP_ID_*), -ENOENT if none. */
int vd_cfg_find_cap(struct vd_dev *d, uint8_t id);
/* Set or clear PCI_COMMAND_MEMORY, as a VMM does before using the BARs. */
int vd_set_memory_enable(struct vd_dev *d, int on);

/* --- dma-buf export (export.c) --- */

/* VFIO_DEVICE_FEATURE with a payload: the ioctl's result (an fd for GET). */
int vd_feature(int fd, uint32_t flags, const void *data, size_t size);
/* The same, claiming @argsz bytes in all while passing all of @data. */
int vd_feature_argsz(int fd, uint32_t flags, const void *data, size_t size,
		     uint32_t argsz);
/*
 * Export @nr ranges of @region as a dma-buf: its fd. @argsz_delta is
 * added to the argsz the call would normally pass; the payload itself is
 * always whole, so a short argsz shows whether the kernel reads past it.
 */
int vd_export(int fd, uint32_t region, uint32_t open_flags, uint32_t flags,
	      const struct vfio_region_dma_range *r, uint32_t nr, int argsz_delta);
/* 0 when the device's driver exports dma-bufs (FEATURE_PROBE). */
int vd_export_probe(int fd);
/* Why an export failed with -@err, in a VMM author's words. */
const char *vd_export_why(int err);

/* --- importers: the test importer and edu-p2p (importer.c) --- */

#define VD_IMPORTER_DEV	"/dev/vd_test_importer"
#define VD_EDU_DEV	"/dev/edu-p2p"

/* A new vd_test_importer instance: its fd (-ENOENT without the module). */
int vd_importer_open(void);
/* Attach it to @dmabuf with @flags (VDTI_*). */
int vd_importer_attach(int imp, int dmabuf, uint32_t flags);
/* Map the attachment: the number of sg segments. */
int vd_importer_map(int imp);
int vd_importer_unmap(int imp);
/* dma_buf_pin() (@pin) or dma_buf_unpin() the attachment. */
int vd_importer_pin(int imp, int pin);
/* Its counters; zeroes if the ioctl fails. */
struct vdti_status vd_importer_status(int imp);
/* Read @bdf's PCI_COMMAND when told to invalidate (VDTI_WATCH). */
int vd_importer_watch(int imp, const char *bdf);
/* Attach, map and unmap @dmabuf: the number of segments mapped. */
int vd_importer_roundtrip(int dmabuf);
/*
 * edu-p2p: import [@off, @off + @len) of @dmabuf (0: up to its end) in
 * @mode (EDU_P2P_*); IB_UMEM takes its RDMA device from @rdma_netdev.
 */
int vd_edu_import(int edu, int dmabuf, uint32_t mode, uint64_t off, uint64_t len,
		  const char *rdma_netdev);
/* edu-p2p: one transfer (EDU_P2P_WRITE or _READ) of the imported window. */
int vd_edu_xfer(int edu, unsigned long cmd, uint64_t off, void *buf, uint64_t len);
/* edu-p2p's status; zeroes if the ioctl fails. */
struct edu_p2p_status vd_edu_status(int edu);

/* --- handing a dma-buf to another process (fdpass.c) --- */

/* Send @fd over the unix socket @sock (SCM_RIGHTS). */
int vd_send_fd(int sock, int fd);
/* Receive one: the new fd (close-on-exec). */
int vd_recv_fd(int sock);

/* --- what the kernel reports (report.c) --- */

#define VD_DEBUGFS	"/sys/kernel/debug/" VD_DRIVER

/* vfio-pci-dmabuf's debugfs file for @bdf, open for reading; NULL + errno. */
FILE *vd_dbg_open(const char *bdf);
/*
 * From that file: the count named @cause on the line starting with @kind
 * ("revokes", "regrants", "holds").
 */
long vd_dbg_count(const char *bdf, const char *kind, const char *cause);
/* Its "exports" line: how many dma-bufs point at the device. */
long vd_dbg_exports(const char *bdf);
/*
 * From the line of the dma-buf whose inode is @ino (fstat's st_ino): the
 * value of @key, written "key N" or "key=N" ("vmas", "zaps", "mapped",
 * "pte", "pmd", "pud"); -ENOENT if there is no such dma-buf or key.
 */
long vd_dbg_dmabuf(const char *bdf, unsigned long ino, const char *key);
/* How many dma-bufs exported by @exp_name exist now (dma_buf/bufinfo). */
int vd_dmabuf_count(const char *exp_name);
/* Value of @key in /proc/self/fdinfo/@fd into @val. */
int vd_fdinfo(int fd, const char *key, char *val, size_t len);
/* /sys/module/@name/refcnt. */
int vd_module_refcnt(const char *name);
/* How many file descriptors this process has open. */
int vd_open_fds(void);

/* --- the device under test, from the environment (env.c) --- */

/*
 * $VD_BDF, else the first ivshmem device (1af4:1110), the rig's. Programs
 * that must not touch other devices (make check-host) always set VD_BDF.
 */
int vd_env_bdf(char *bdf, size_t len);
/* The ivshmem BAR the rig backs with a host file. */
#define VD_IVSHMEM_BAR	VFIO_PCI_BAR2_REGION_INDEX
/*
 * The memory BAR of @d the tests export: $VD_BAR, else BAR2 of an ivshmem
 * device, else the largest BAR that can be mmapped and holds a page or more.
 * Its region index, its info in @ri; -ENODEV if the device has none.
 */
int vd_env_bar(struct vd_dev *d, struct vfio_region_info *ri);
/*
 * Whether the tests run on a real host ($VD_REAL_HOST=1, make check-host):
 * only the device named by VD_BDF is there to touch, none of the rig's.
 */
int vd_env_real_host(void);
/* $VD_DRIVER, the driver @bdf must be bound to; else vfio-pci-dmabuf. */
const char *vd_env_driver(void);
/* Whether that driver is mainline vfio-pci (our reference). */
int vd_env_is_mainline(void);
/*
 * Whether the driver is mainline vfio-pci with the bug that upstream/'s
 * patch @fix (its name in upstream/series) fixes: mainline, and @fix not
 * among the words of $VD_MAINLINE_FIXED, which the rig sets to the fixes
 * applied to the kernel under test. 0 for ours.
 */
int vd_env_mainline_bug(const char *fix);
/* The module that owns the dma-bufs: vfio_pci_dmabuf, or vfio_pci_core. */
const char *vd_env_exporter_module(void);

/* --- iommufd: one IOAS, several devices in it (iommufd.c, device.c) --- */

/* IOMMU_IOAS_MAP's and IOMMU_IOAS_MAP_FILE's flags (<linux/iommufd.h>) */
#define VD_IOAS_MAP_FIXED_IOVA	0x1
#define VD_IOAS_MAP_WRITEABLE	0x2
#define VD_IOAS_MAP_READABLE	0x4

/* /dev/iommu, opened: its fd (-ENOENT without IOMMUFD). */
int vd_iommufd_open(void);
/* A new IOAS in @iommufd: its id into *@ioas_id. */
int vd_ioas_alloc(int iommufd, uint32_t *ioas_id);
/*
 * IOMMU_IOAS_MAP: map [@va, @va + @len) of this process's memory at *@iova
 * with @flags (VD_IOAS_MAP_*); without VD_IOAS_MAP_FIXED_IOVA, where the
 * kernel picks, written back to *@iova.
 */
int vd_ioas_map_user(int iommufd, uint32_t ioas_id, uint64_t *iova, uint32_t flags,
		     void *va, uint64_t len);
/*
 * IOMMU_IOAS_MAP_FILE (6.13+; a dma-buf from 6.19): the same for
 * [@start, @start + @len) of the file or dma-buf @fd.
 */
int vd_ioas_map_file(int iommufd, uint32_t ioas_id, uint64_t *iova, uint32_t flags,
		     int fd, uint64_t start, uint64_t len);
/* IOMMU_IOAS_UNMAP of [@iova, @iova + @len); the bytes unmapped into *@unmapped. */
int vd_ioas_unmap(int iommufd, uint32_t ioas_id, uint64_t iova, uint64_t len, uint64_t *unmapped);
/*
 * Open @bdf through its cdev bound to the caller's @iommufd and attached to
 * its IOAS @ioas_id, so that several devices share one I/O address space,
 * as a VMM's passthrough devices do. @iommufd stays the caller's: @d->iommufd
 * is -1 and vd_close() closes the device alone. The caller closes @iommufd
 * when it likes; each device bound to it holds it until closed.
 */
int vd_open_cdev_in(struct vd_dev *d, const char *bdf, int iommufd, uint32_t ioas_id);

/* --- QEMU's edu DMA engine, driven through VFIO (edu.c) --- */

/*
 * QEMU's edu device driven through VFIO: a DMA engine with a 4 KiB buffer
 * of its own at device address VD_EDU_BUF, reaching only the IOVAs below
 * 256 MiB (its default dma_mask, 28 bits). A transfer moves at most half
 * the buffer, from its start: QEMU 7.2 aborts on one that reaches the
 * buffer's end (an off-by-one in its range check; edu-p2p does the same).
 */
#define VD_EDU_BUF		0x40000ULL
#define VD_EDU_XFER_MAX		2048U
#define VD_EDU_DMA_MASK		((1ULL << 28) - 1)

struct vd_edu_vfio {
	struct vd_dev *dev;	/* the caller's, open */
	unsigned char *bar0;	/* the registers, mmapped */
	size_t bar0_size;
};

/*
 * Map @d's BAR0 into @e, turn memory decode and bus mastering on, and check
 * that an edu answers there (-EIO if not). @d stays the caller's.
 */
int vd_edu_vfio_open(struct vd_edu_vfio *e, struct vd_dev *d);
void vd_edu_vfio_close(struct vd_edu_vfio *e);
/*
 * One transfer of @len bytes (at most VD_EDU_XFER_MAX) between the engine's
 * buffer and @iova: into the buffer, or out of it to @iova when @to_ram.
 * Waits up to @timeout_ms for the engine (QEMU starts it 100 ms later):
 * -ETIMEDOUT. 0 says the engine is done, not that the bytes arrived: a
 * transfer the IOMMU refuses completes too, leaving a DMAR fault.
 */
int vd_edu_vfio_dma(struct vd_edu_vfio *e, int to_ram, uint64_t iova, uint32_t len,
		    int timeout_ms);

#endif /* VFIO_DMABUF_VD_H */
