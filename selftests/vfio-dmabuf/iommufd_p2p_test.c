// SPDX-License-Identifier: GPL-2.0-only
/*
 * Peer-to-peer DMA between two passthrough devices through iommufd, the
 * path a VMM takes: both devices are opened through their VFIO cdev, bound
 * to one iommufd and attached to one IOAS; a window of the ivshmem's BAR2
 * is exported as a dma-buf and mapped into the IOAS with
 * IOMMU_IOAS_MAP_FILE, user memory with IOMMU_IOAS_MAP; the edu, driven
 * from userspace through VFIO (<vfio-dmabuf/vd.h>'s vd_edu_vfio_*), DMAs
 * between the two IOVAs. The host checks the BAR's bytes in its backing
 * file.
 *
 * Mainline (6.19+) only: iommufd imports only vfio-pci's own dma-bufs, of
 * one range (vfio_pci_dma_buf_iommufd_map()). A revoke unmaps the BAR from
 * the IOAS for good: vfio re-grants it after a reset or when memory decode
 * is back, iommufd does not map it again; the VMM must unmap and map the
 * dma-buf again. A DMA in between faults in the IOMMU, which the kernel
 * reports (DMAR); the test brackets that DMA with markers in the kernel log,
 * between which host/tap.py does not count the edu's DMAR faults as splats.
 *
 * On 6.x (ours), iommufd has no IOMMU_IOAS_MAP_FILE: map_file_is_not_there
 * says so. Kernels without IOMMUFD skip it all.
 *
 * These tests own BAR2 [0xe40000, 0xe80000); no other test writes there.
 * edu takes ~100 ms per transfer under QEMU: transfers are few, 2 KiB each.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/udmabuf.h>

#include "kselftest_harness.h"
#include "vd_test.h"

#define WIN_OFF		0xe40000ULL	/* BAR2: the exported window */
#define WIN_LEN		0x40000ULL
#define MEM_IOVA	0x100000ULL	/* the user memory's IOVA */
#define MEM_LEN		0x10000ULL
#define BAR_IOVA	0x400000ULL	/* the window's; both below edu's 256 MiB */
#define XFER		VD_EDU_XFER_MAX	/* one transfer */
#define DMA_MS		10000		/* at most, for one transfer */
#define FAULT_MS	10000		/* at most, for the DMAR report of a fault */
#define RW_FIXED	(VD_IOAS_MAP_FIXED_IOVA | VD_IOAS_MAP_READABLE | VD_IOAS_MAP_WRITEABLE)
#define SEED		0x10fd0000	/* the tests' seeds: SEED + n */

/* What a VMM holds: one iommufd, one IOAS, the two devices in it. */
struct vmm {
	int iommufd;
	uint32_t ioas;
	struct vd_dev bar;	/* the ivshmem, whose BAR2 is exported */
	struct vd_dev dma;	/* the edu */
	struct vd_edu_vfio edu;
	unsigned char *mem;	/* MEM_LEN of user memory, at MEM_IOVA */
	int dmabuf;		/* the window */
	uint64_t bar2;		/* BAR2's offset in the device fd */
};

static void vmm_setup(struct __test_metadata *_metadata, struct vmm *v)
{
	const struct vfio_region_dma_range win = { WIN_OFF, WIN_LEN };
	const char *dma_bdf = getenv("VD_DMA_BDF");
	struct vfio_region_info ri;
	uint64_t iova = MEM_IOVA;
	char bdf[VD_BDF_LEN];

	*v = (struct vmm){ .iommufd = -1, .dmabuf = -1, .mem = MAP_FAILED };
	if (access("/dev/iommu", F_OK))
		SKIP(return, "kernel without IOMMUFD (no /dev/iommu): no VMM on iommufd here");
	VD_NEED_RIG("third edu (VD_DMA_BDF), a VFIO device beside the ivshmem");
	ASSERT_TRUE(dma_bdf && *dma_bdf) TH_LOG("VD_DMA_BDF names no edu (the rig's guest-run.sh does)");
	VD_ASSERT_OK(vd_env_bdf(bdf, sizeof(bdf)));
	v->iommufd = VD_ASSERT_OK(vd_iommufd_open());
	VD_ASSERT_OK(vd_ioas_alloc(v->iommufd, &v->ioas));
	ASSERT_EQ(0, vd_open_cdev_in(&v->bar, bdf, v->iommufd, v->ioas))
		TH_LOG("open %s: %s failed", bdf, v->bar.step);
	ASSERT_EQ(0, vd_open_cdev_in(&v->dma, dma_bdf, v->iommufd, v->ioas))
		TH_LOG("open %s: %s failed", dma_bdf, v->dma.step);
	VD_ASSERT_OK(vd_set_memory_enable(&v->bar, 1));
	VD_ASSERT_OK(vd_edu_vfio_open(&v->edu, &v->dma));
	VD_ASSERT_OK(vd_region_info(&v->bar, VD_IVSHMEM_BAR, &ri));
	v->bar2 = ri.offset;
	v->mem = mmap(NULL, MEM_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, v->mem);
	VD_ASSERT_OK(vd_ioas_map_user(v->iommufd, v->ioas, &iova, RW_FIXED, v->mem, MEM_LEN));
	v->dmabuf = VD_ASSERT_OK(vd_export(v->bar.fd, VD_IVSHMEM_BAR, O_RDWR | O_CLOEXEC, 0,
					   &win, 1, 0));
}

static void vmm_teardown(struct vmm *v)
{
	vd_edu_vfio_close(&v->edu);
	if (v->dmabuf >= 0)
		close(v->dmabuf);
	vd_close(&v->dma);
	vd_close(&v->bar);
	if (v->mem != MAP_FAILED)
		munmap(v->mem, MEM_LEN);
	if (v->iommufd >= 0)
		close(v->iommufd);
}

/* Where iommufd imports vfio-pci's dma-bufs: mainline's vfio-pci only. */
#define NEED_IMPORT() do {							\
	if (!vd_env_is_mainline())						\
		SKIP(return, "iommufd on 6.x cannot import a dma-buf: "	\
		     "map_file_is_not_there shows what it does instead");	\
} while (0)

/* IOMMU_IOAS_MAP_FILE of the whole window at BAR_IOVA. */
static int map_window(struct vmm *v)
{
	uint64_t iova = BAR_IOVA;

	return vd_ioas_map_file(v->iommufd, v->ioas, &iova, RW_FIXED, v->dmabuf, 0, WIN_LEN);
}

/* edu takes seed's bytes from user memory into its buffer... */
static int edu_load(struct vmm *v, uint32_t seed)
{
	vd_pattern(v->mem, XFER, seed);
	return vd_edu_vfio_dma(&v->edu, 0, MEM_IOVA, XFER, DMA_MS);
}

/* ...and writes them to the window at @off, through the IOAS. */
static int edu_store(struct vmm *v, uint64_t off)
{
	return vd_edu_vfio_dma(&v->edu, 1, BAR_IOVA + off, XFER, DMA_MS);
}

static int bar_read(struct vmm *v, uint64_t off, void *buf, size_t len)
{
	ssize_t n = pread(v->bar.fd, buf, len, v->bar2 + WIN_OFF + off);

	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

/*
 * The window holds seed's bytes at @off: read back now through the VFIO
 * region (not through any mapping of the dma-buf), and by the host after
 * the guest stops, from BAR2's file.
 */
static void expect_bar(struct __test_metadata *_metadata, struct vmm *v, const char *what,
		       uint64_t off, uint32_t seed)
{
	unsigned char want[XFER], got[XFER];

	vd_pattern(want, sizeof(want), seed);
	VD_ASSERT_OK(bar_read(v, off, got, sizeof(got)));
	ASSERT_EQ(0, memcmp(want, got, sizeof(got)))
		TH_LOG("%s: BAR2+0x%llx does not hold the bytes of seed 0x%x", what,
		       WIN_OFF + off, seed);
	VD_ASSERT_OK(vd_host_expect(what, WIN_OFF + off, sizeof(want), seed));
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define MARKER		"vfio-dmabuf: expect DMAR faults from "
#define MARKER_END	"vfio-dmabuf: end of expected DMAR faults"
/*
 * intel-iommu's dmar_fault() prints at most 10 lines per 5 s, and spends 3
 * of them on each fault: a fourth fault within 5 s goes unreported. Before
 * a fault the test must see, it waits this long after the last one.
 */
#define DMAR_QUIET_US	5500000LL

static int kmsg_say(int kmsg, const char *fmt, ...)
{
	char line[160];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return write(kmsg, line, n) == n ? 0 : -errno;
}

/*
 * The next record of /dev/kmsg ("prio,seq,usec,flags;message"): its
 * message's first line into @msg, its time into *@us. -EAGAIN if none yet.
 */
static int kmsg_next(int kmsg, char *msg, size_t len, long long *us)
{
	char rec[1024];
	const char *m;
	ssize_t n;

	for (;;) {
		n = read(kmsg, rec, sizeof(rec) - 1);
		if (n >= 0)
			break;
		/* EPIPE: records were overwritten before we read them; go on */
		if (errno != EPIPE)
			return -errno;
	}
	rec[n] = 0;
	m = strchr(rec, ';');
	if (!m || sscanf(rec, "%*u,%*u,%lld", us) != 1)
		return -EBADMSG;
	snprintf(msg, len, "%.*s", (int)strcspn(m + 1, "\n"), m + 1);
	return 0;
}

/*
 * Read the whole log up to its end: the time of the last marker naming
 * @bdf (ours, just written) into *@marker_us, of the last DMAR fault
 * report into *@fault_us (-1 if none).
 */
static int kmsg_scan(int kmsg, const char *bdf, long long *marker_us, long long *fault_us)
{
	char msg[512], marker[64];
	long long us;
	int ret;

	snprintf(marker, sizeof(marker), MARKER "%s", bdf);
	*marker_us = *fault_us = -1;
	while (!(ret = kmsg_next(kmsg, msg, sizeof(msg), &us))) {
		if (!strcmp(msg, marker))
			*marker_us = us;
		else if (strstr(msg, "DMAR: DRHD: handling fault") || strstr(msg, "DMAR: [DMA "))
			*fault_us = us;
	}
	if (ret != -EAGAIN)
		return ret;
	return *marker_us < 0 ? -ENOENT : 0;
}

/*
 * Wait up to @ms for the kernel's report of a DMA write by @bdf faulting at
 * @iova (intel-iommu: "DMAR: [DMA Write NO_PASID] Request device
 * [0000:00:0b.0] fault addr 0x400000 [fault reason ...] ..."; 6.x names the
 * device without its domain). The line into @line.
 */
static int kmsg_wait_fault(int kmsg, const char *bdf, uint64_t iova, int ms,
			   char *line, size_t len)
{
	char msg[512], dev[48], dev_short[48], addr[40];
	long end = now_ms() + ms;
	long long us;
	int ret;

	snprintf(dev, sizeof(dev), "Request device [%s]", bdf);
	snprintf(dev_short, sizeof(dev_short), "Request device [%s]", bdf + 5);
	snprintf(addr, sizeof(addr), "fault addr 0x%llx ", (unsigned long long)iova);
	while (now_ms() < end) {
		ret = kmsg_next(kmsg, msg, sizeof(msg), &us);
		if (ret == -EAGAIN) {
			usleep(10000);
			continue;
		}
		if (ret)
			return ret;
		if (strstr(msg, "DMAR: [DMA Write") && strstr(msg, addr) &&
		    (strstr(msg, dev) || strstr(msg, dev_short))) {
			snprintf(line, len, "%s", msg);
			return 0;
		}
	}
	return -ETIMEDOUT;
}

/*
 * edu writes its buffer to the window at @off where the IOMMU must refuse
 * it: 0 when the kernel reported edu's fault at that IOVA (its line in
 * @line). The DMA and the wait for the report are bracketed by the markers
 * host/tap.py accepts the edu's DMAR fault lines between; the end marker is
 * written whatever happened, and nothing between asserts.
 */
static int edu_store_faults(struct vmm *v, uint64_t off, char *line, size_t len)
{
	long long marker_us, fault_us;
	int kmsg, ret;

	snprintf(line, len, "(none)");
	kmsg = open("/dev/kmsg", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (kmsg < 0)
		return -errno;
	ret = kmsg_say(kmsg, MARKER "%s\n", v->dma.bdf);
	if (!ret)
		ret = kmsg_scan(kmsg, v->dma.bdf, &marker_us, &fault_us);
	if (!ret && fault_us >= 0 && marker_us - fault_us < DMAR_QUIET_US)
		usleep(DMAR_QUIET_US - (marker_us - fault_us));
	if (!ret)
		ret = edu_store(v, off);
	if (!ret)
		ret = kmsg_wait_fault(kmsg, v->dma.bdf, BAR_IOVA + off, FAULT_MS, line, len);
	kmsg_say(kmsg, MARKER_END "\n");
	close(kmsg);
	return ret;
}

FIXTURE(iommufd) {
	struct vmm v;
};

FIXTURE_SETUP(iommufd)
{
	vmm_setup(_metadata, &self->v);
}

FIXTURE_TEARDOWN(iommufd)
{
	vmm_teardown(&self->v);
}

/* RAM -> edu -> BAR: the bytes land in the BAR, the guest and the host see them. */
TEST_F(iommufd, edu_dma_write_lands_in_the_bar)
{
	NEED_IMPORT();
	VD_ASSERT_OK(map_window(&self->v));
	VD_ASSERT_OK(edu_load(&self->v, SEED + 1));
	VD_ASSERT_OK(edu_store(&self->v, 0));
	expect_bar(_metadata, &self->v, "iommufd_edu_dma_write", 0, SEED + 1);
}

/* The CPU writes the BAR; BAR -> edu -> RAM brings the same bytes. */
TEST_F(iommufd, edu_dma_read_returns_the_bar_bytes)
{
	unsigned char want[XFER];
	const uint64_t off = 0x2000;

	NEED_IMPORT();
	VD_ASSERT_OK(map_window(&self->v));
	vd_pattern(want, sizeof(want), SEED + 2);
	ASSERT_EQ(sizeof(want), pwrite(self->v.bar.fd, want, sizeof(want),
				       self->v.bar2 + WIN_OFF + off));
	VD_ASSERT_OK(vd_edu_vfio_dma(&self->v.edu, 0, BAR_IOVA + off, XFER, DMA_MS));
	VD_ASSERT_OK(vd_edu_vfio_dma(&self->v.edu, 1, MEM_IOVA + 0x1000, XFER, DMA_MS));
	ASSERT_EQ(0, memcmp(want, self->v.mem + 0x1000, sizeof(want)));
	VD_ASSERT_OK(vd_host_expect("iommufd_cpu_write_edu_read", WIN_OFF + off, XFER, SEED + 2));
}

/*
 * Mainline's limits, each refused at IOMMU_IOAS_MAP_FILE. Only one range:
 * iommufd takes the dma-buf's address from vfio as one physical range.
 */
TEST_F(iommufd, two_range_dmabuf_is_refused)
{
	const struct vfio_region_dma_range r[] = {
		{ WIN_OFF, SZ_4K }, { WIN_OFF + 0x2000, SZ_4K },
	};
	uint64_t iova = BAR_IOVA;
	int fd;

	NEED_IMPORT();
	fd = VD_ASSERT_OK(vd_export(self->v.bar.fd, VD_IVSHMEM_BAR, O_RDWR | O_CLOEXEC, 0,
				    r, 2, 0));
	VD_ASSERT_ERR(EOPNOTSUPP, vd_ioas_map_file(self->v.iommufd, self->v.ioas, &iova,
						   RW_FIXED, fd, 0, 2 * SZ_4K));
	close(fd);
}

/* Only vfio-pci's dma-bufs: one of system memory (udmabuf) is refused. */
TEST_F(iommufd, udmabuf_is_refused)
{
	struct udmabuf_create c = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = MEM_LEN };
	uint64_t iova = BAR_IOVA;
	int dev, memfd, fd;

	NEED_IMPORT();
	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0 && errno == ENOENT)
		SKIP(return, "this kernel has no udmabuf (CONFIG_UDMABUF)");
	ASSERT_LE(0, dev);
	memfd = memfd_create("iommufd-p2p", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	ASSERT_LE(0, memfd);
	ASSERT_EQ(0, ftruncate(memfd, MEM_LEN));
	ASSERT_EQ(0, fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK));
	c.memfd = memfd;
	fd = ioctl(dev, UDMABUF_CREATE, &c);
	close(dev);
	ASSERT_LE(0, fd) TH_LOG("UDMABUF_CREATE: %s", strerror(errno));
	VD_ASSERT_ERR(EOPNOTSUPP, vd_ioas_map_file(self->v.iommufd, self->v.ioas, &iova,
						   RW_FIXED, fd, 0, MEM_LEN));
	close(fd);
	close(memfd);
}

/* A dma-buf revoked right now (memory decode off) is refused; back on, it maps. */
TEST_F(iommufd, revoked_dmabuf_is_refused)
{
	NEED_IMPORT();
	VD_ASSERT_OK(vd_set_memory_enable(&self->v.bar, 0));
	VD_ASSERT_ERR(ENODEV, map_window(&self->v));
	VD_ASSERT_OK(vd_set_memory_enable(&self->v.bar, 1));
	VD_ASSERT_OK(map_window(&self->v));
}

/* A window of the dma-buf that ends past it. */
TEST_F(iommufd, window_past_the_dmabuf_is_refused)
{
	uint64_t iova = BAR_IOVA;

	NEED_IMPORT();
	VD_ASSERT_ERR(EINVAL, vd_ioas_map_file(self->v.iommufd, self->v.ioas, &iova, RW_FIXED,
					       self->v.dmabuf, SZ_4K, WIN_LEN));
}

/* A window not page aligned never becomes a dma-buf: vfio refuses it at export. */
TEST_F(iommufd, unaligned_window_is_refused_at_export)
{
	const struct vfio_region_dma_range r = { WIN_OFF + 0x800, SZ_4K };

	NEED_IMPORT();
	VD_ASSERT_ERR(EINVAL, vd_export(self->v.bar.fd, VD_IVSHMEM_BAR, O_RDWR | O_CLOEXEC, 0,
					&r, 1, 0));
}

/*
 * iommufd does not look at the dma-buf's file mode (it governs the CPU's
 * mmap only): one exported O_RDONLY maps writeable, and edu's write lands.
 */
TEST_F(iommufd, readonly_dmabuf_still_maps_writeable)
{
	const struct vfio_region_dma_range r = { WIN_OFF + 0x30000, 0x10000 };
	uint64_t iova = BAR_IOVA + WIN_LEN;
	int fd;

	NEED_IMPORT();
	fd = VD_ASSERT_OK(vd_export(self->v.bar.fd, VD_IVSHMEM_BAR, O_RDONLY | O_CLOEXEC, 0,
				    &r, 1, 0));
	VD_ASSERT_OK(vd_ioas_map_file(self->v.iommufd, self->v.ioas, &iova, RW_FIXED, fd, 0,
				      r.length));
	close(fd);
	VD_ASSERT_OK(edu_load(&self->v, SEED + 3));
	VD_ASSERT_OK(vd_edu_vfio_dma(&self->v.edu, 1, iova, XFER, DMA_MS));
	expect_bar(_metadata, &self->v, "iommufd_edu_dma_write_through_readonly_dmabuf",
		   0x30000, SEED + 3);
}

/*
 * Why MAP_FILE: iommufd pins user memory with pin_user_pages(), which a
 * VFIO region mmap (VM_PFNMAP, no struct page) refuses; so a VMM cannot
 * map a BAR by its address on iommufd, on 6.x and on mainline alike.
 */
TEST_F(iommufd, bar_mmap_cannot_be_mapped_by_address)
{
	uint64_t iova = BAR_IOVA;
	void *bar;

	bar = mmap(NULL, WIN_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, self->v.bar.fd,
		   self->v.bar2 + WIN_OFF);
	ASSERT_NE(MAP_FAILED, bar);
	VD_ASSERT_ERR(EFAULT, vd_ioas_map_user(self->v.iommufd, self->v.ioas, &iova, RW_FIXED,
					       bar, WIN_LEN));
	munmap(bar, WIN_LEN);
}

/*
 * 6.x (ours): IOMMU_IOAS_MAP_FILE came with 6.13, and takes a dma-buf from
 * 6.19, vfio-pci's own only. Before 6.13 iommufd has no such ioctl.
 */
TEST_F(iommufd, map_file_is_not_there)
{
	if (vd_env_is_mainline())
		SKIP(return, "mainline's iommufd imports vfio-pci's dma-bufs: the other tests");
	VD_ASSERT_ERR(ENOTTY, map_window(&self->v));
}

/*
 * What takes the BAR away, and what gives it back on vfio's side (NULL: the
 * trigger itself, as a reset does). Each variant owns a slot of the window.
 */
FIXTURE(ioas_revoke) {
	struct vmm v;
};

FIXTURE_VARIANT(ioas_revoke) {
	int (*revoke)(struct vd_dev *bar);
	int (*back)(struct vd_dev *bar);
	uint64_t off;
	uint32_t seed;
};

static int reset(struct vd_dev *bar)
{
	return ioctl(bar->fd, VFIO_DEVICE_RESET) ? -errno : 0;
}

static int decode_off(struct vd_dev *bar)
{
	return vd_set_memory_enable(bar, 0);
}

static int decode_on(struct vd_dev *bar)
{
	return vd_set_memory_enable(bar, 1);
}

FIXTURE_VARIANT_ADD(ioas_revoke, reset) {
	.revoke = reset, .back = NULL, .off = 0x10000, .seed = SEED + 0x100,
};

FIXTURE_VARIANT_ADD(ioas_revoke, memory_decode_off) {
	.revoke = decode_off, .back = decode_on, .off = 0x18000, .seed = SEED + 0x200,
};

FIXTURE_SETUP(ioas_revoke)
{
	vmm_setup(_metadata, &self->v);
	if (_metadata->exit_code)
		return;
	NEED_IMPORT();
	/* the first transfer, before any revoke, lands */
	VD_ASSERT_OK(map_window(&self->v));
	VD_ASSERT_OK(edu_load(&self->v, variant->seed));
	VD_ASSERT_OK(edu_store(&self->v, variant->off));
}

FIXTURE_TEARDOWN(ioas_revoke)
{
	vmm_teardown(&self->v);
}

/*
 * Revoked, the BAR is gone from the IOAS: edu's next write to the same
 * IOVA faults in the IOMMU and never reaches the BAR, which still holds the
 * first write's bytes.
 */
TEST_F_TIMEOUT(ioas_revoke, dma_faults_and_never_lands, 120)
{
	char line[512];
	int ret;

	VD_ASSERT_OK(variant->revoke(&self->v.bar));
	VD_ASSERT_OK(edu_load(&self->v, variant->seed + 1));
	ret = edu_store_faults(&self->v, variant->off, line, sizeof(line));
	if (variant->back)
		VD_ASSERT_OK(variant->back(&self->v.bar));
	ASSERT_EQ(0, ret) TH_LOG("no DMAR fault from %s at IOVA 0x%llx: %s", self->v.dma.bdf,
				 BAR_IOVA + variant->off, vd_strerr(ret));
	TH_LOG("the fault: %s", line);
	expect_bar(_metadata, &self->v, "iommufd_first_write_survives_a_revoked_dma",
		   variant->off, variant->seed);
}

/*
 * The revoke is one way: once vfio has the BAR back, iommufd still does not
 * map it, and edu's write faults again; after IOMMU_IOAS_UNMAP and
 * IOMMU_IOAS_MAP_FILE of the same dma-buf, a write lands.
 */
TEST_F_TIMEOUT(ioas_revoke, regrant_does_not_map_again_until_the_vmm_does, 120)
{
	uint64_t unmapped = 0;
	char line[512];
	int ret;

	VD_ASSERT_OK(variant->revoke(&self->v.bar));
	if (variant->back)
		VD_ASSERT_OK(variant->back(&self->v.bar));
	VD_ASSERT_OK(edu_load(&self->v, variant->seed + 2));
	ret = edu_store_faults(&self->v, variant->off, line, sizeof(line));
	ASSERT_EQ(0, ret) TH_LOG("no DMAR fault from %s at IOVA 0x%llx after the re-grant: %s",
				 self->v.dma.bdf, BAR_IOVA + variant->off, vd_strerr(ret));
	expect_bar(_metadata, &self->v, "iommufd_no_dma_lands_after_the_regrant",
		   variant->off, variant->seed);

	VD_ASSERT_OK(vd_ioas_unmap(self->v.iommufd, self->v.ioas, BAR_IOVA, WIN_LEN, &unmapped));
	ASSERT_EQ(WIN_LEN, unmapped);
	VD_ASSERT_OK(map_window(&self->v));
	VD_ASSERT_OK(edu_load(&self->v, variant->seed + 3));
	VD_ASSERT_OK(edu_store(&self->v, variant->off + XFER));
	expect_bar(_metadata, &self->v, "iommufd_dma_lands_once_mapped_again",
		   variant->off + XFER, variant->seed + 3);
}

TEST_HARNESS_MAIN
