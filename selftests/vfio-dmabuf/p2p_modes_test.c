// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ways RDMA drivers import a dma-buf, played by edu-p2p, against two
 * exporters:
 *  - system memory (udmabuf), which lets anyone pin: every mode moves real
 *    bytes with edu's DMA engine, checked through the memfd;
 *  - the VFIO BAR, which must be revocable: importers that pin are refused
 *    with EOPNOTSUPP, by ours and by mainline, and leave nothing behind.
 *
 * The pinned-importer policy these tests pin down is in dmabuf.c ("Importers
 * that pin") and the README.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/udmabuf.h>

#include "kselftest_harness.h"
#include "vd_test.h"
#include <linux/edu_p2p.h>

#define EXPORT_OFF	0x900000ULL	/* BAR2 offset of the exported range */
#define EXPORT_LEN	0x40000ULL
#define MEM_LEN		0x40000ULL	/* the udmabuf */
/* An unaligned window: offset 0 of a transfer is this byte of the dma-buf. */
#define WIN_OFF		0x1800ULL
#define WIN_LEN		0x30000ULL

static const char *const mode_name[] = {
	[EDU_P2P_DYNAMIC] = "dynamic",
	[EDU_P2P_PINNED] = "pinned",
	[EDU_P2P_PINNED_REVOCABLE] = "pinned-revocable",
	[EDU_P2P_IB_UMEM] = "ib_umem",
};

/* Import through edu-p2p; IB_UMEM's rxe0 lives on eth0. 0 or -errno. */
static int import(int edu, int fd, uint32_t mode, uint64_t off, uint64_t len)
{
	return vd_edu_import(edu, fd, mode, off, len, "eth0");
}

/* SKIP unless this edu-p2p build has @mode. */
#define NEED_MODE(edu, mode)						\
	do {								\
		if (!(vd_edu_status(edu).modes & (1u << (mode))))	\
			SKIP(return, "edu-p2p has no %s mode on this kernel " \
			     "(ib_core lacks ib_umem_dmabuf_get_pinned_with_dma_device)", \
			     mode_name[mode]);				\
	} while (0)

/* ---- system memory: every mode moves bytes ---- */

FIXTURE(sysmem) {
	int memfd, dmabuf, edu;
	unsigned char *mem;
};

FIXTURE_VARIANT(sysmem) {
	uint32_t mode;
};

FIXTURE_VARIANT_ADD(sysmem, dynamic) { .mode = EDU_P2P_DYNAMIC };
FIXTURE_VARIANT_ADD(sysmem, pinned) { .mode = EDU_P2P_PINNED };
FIXTURE_VARIANT_ADD(sysmem, pinned_revocable) { .mode = EDU_P2P_PINNED_REVOCABLE };
FIXTURE_VARIANT_ADD(sysmem, ib_umem) { .mode = EDU_P2P_IB_UMEM };

FIXTURE_SETUP(sysmem)
{
	struct udmabuf_create c = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = MEM_LEN };
	int dev;

	self->memfd = self->dmabuf = self->edu = -1;
	self->mem = MAP_FAILED;
	if (access("/dev/edu-p2p", F_OK))
		SKIP(return, "edu-p2p is not built for this kernel");
	self->edu = open("/dev/edu-p2p", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->edu);
	NEED_MODE(self->edu, variant->mode);
	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0 && errno == ENOENT)
		SKIP(return, "this kernel has no udmabuf (CONFIG_UDMABUF), the only "
		     "system-memory exporter that accepts pinned importers");
	ASSERT_LE(0, dev);
	self->memfd = memfd_create("p2p-modes", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	ASSERT_LE(0, self->memfd);
	ASSERT_EQ(0, ftruncate(self->memfd, MEM_LEN));
	ASSERT_EQ(0, fcntl(self->memfd, F_ADD_SEALS, F_SEAL_SHRINK));
	self->mem = mmap(NULL, MEM_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, self->memfd, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	c.memfd = self->memfd;
	self->dmabuf = ioctl(dev, UDMABUF_CREATE, &c);
	close(dev);
	ASSERT_LE(0, self->dmabuf) TH_LOG("UDMABUF_CREATE: %s", strerror(errno));
	VD_ASSERT_OK(import(self->edu, self->dmabuf, variant->mode, WIN_OFF, WIN_LEN));
}

FIXTURE_TEARDOWN(sysmem)
{
	if (self->edu >= 0)
		close(self->edu);
	if (self->dmabuf >= 0)
		close(self->dmabuf);
	if (self->mem != MAP_FAILED)
		munmap(self->mem, MEM_LEN);
	if (self->memfd >= 0)
		close(self->memfd);
}

/* 4 KiB at several window offsets land at the matching memory bytes. */
TEST_F(sysmem, dma_write_lands_in_memory)
{
	static const uint64_t offs[] = { 0, 0x3000, 0x21000, WIN_LEN - SZ_4K };
	unsigned char buf[SZ_4K];
	struct edu_p2p_status st;
	unsigned int i;

	memset(self->mem, 0, MEM_LEN);
	for (i = 0; i < 4; i++) {
		vd_pattern(buf, sizeof(buf), 0x6100 + i);
		VD_ASSERT_OK(vd_edu_xfer(self->edu, EDU_P2P_WRITE, offs[i], buf, sizeof(buf)));
		ASSERT_EQ(0, memcmp(self->mem + WIN_OFF + offs[i], buf, sizeof(buf)))
			TH_LOG("bytes at window +0x%llx differ", (unsigned long long)offs[i]);
	}
	/* nothing before the window moved */
	for (i = 0; i < WIN_OFF; i++)
		ASSERT_EQ(0, self->mem[i]);
	st = vd_edu_status(self->edu);
	EXPECT_EQ(4 * SZ_4K, st.dma_bytes);
	EXPECT_EQ(1, st.mapped);
	EXPECT_EQ(variant->mode != EDU_P2P_DYNAMIC, st.pinned);
}

TEST_F(sysmem, dma_read_returns_memory_bytes)
{
	vd_test_edu_reads_back(_metadata, self->edu, self->mem + WIN_OFF + 0x9000,
			       0x9000, 0x6110);
}

TEST_F(sysmem, range_outside_the_window_is_refused)
{
	vd_test_edu_refuses_past(_metadata, self->edu, WIN_LEN);
}

/* ---- the VFIO BAR: importers that pin are refused ---- */

FIXTURE(bar) {
	struct vd_dev dev;
	int dmabuf, edu;
};

FIXTURE_SETUP(bar)
{
	const struct vfio_region_dma_range r = { EXPORT_OFF, EXPORT_LEN };

	self->dmabuf = self->edu = -1;
	if (access("/dev/edu-p2p", F_OK))
		SKIP(return, "edu-p2p is not built for this kernel");
	vd_test_open(_metadata, &self->dev);
	self->dmabuf = VD_ASSERT_OK(vd_export(self->dev.fd, VD_IVSHMEM_BAR, O_CLOEXEC, 0, &r, 1, 0));
	self->edu = open("/dev/edu-p2p", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->edu);
}

FIXTURE_TEARDOWN(bar)
{
	if (self->edu >= 0)
		close(self->edu);
	if (self->dmabuf >= 0)
		close(self->dmabuf);
	vd_close(&self->dev);
}

/*
 * After a refused import the importer holds nothing and the dma-buf works:
 * a dynamic import of it moves bytes, is revoked and comes back.
 */
static void refused_leaves_nothing(struct __test_metadata *_metadata,
				   FIXTURE_DATA(bar) *self, uint32_t seed, uint64_t off)
{
	struct edu_p2p_status st = vd_edu_status(self->edu);
	unsigned char buf[2048];
	char what[64];

	ASSERT_EQ(0, st.mapped);
	ASSERT_EQ(0, st.pinned);
	ASSERT_EQ(0, st.maps);
	VD_ASSERT_OK(import(self->edu, self->dmabuf, EDU_P2P_DYNAMIC, 0, 0));
	vd_pattern(buf, sizeof(buf), seed);
	VD_ASSERT_OK(vd_edu_xfer(self->edu, EDU_P2P_WRITE, off, buf, sizeof(buf)));
	ASSERT_EQ(0, vd_set_memory_enable(&self->dev, 0));
	VD_ASSERT_ERR(ENODEV, vd_edu_xfer(self->edu, EDU_P2P_WRITE, off + sizeof(buf), buf, sizeof(buf)));
	ASSERT_EQ(0, vd_set_memory_enable(&self->dev, 1));
	snprintf(what, sizeof(what), "edu_dma_after_refused_import_%x", seed);
	ASSERT_EQ(0, vd_host_expect(what, EXPORT_OFF + off, sizeof(buf), seed));
	snprintf(what, sizeof(what), "edu_dma_revoked_after_refused_import_%x", seed);
	ASSERT_EQ(0, vd_host_expect(what, EXPORT_OFF + off + sizeof(buf), sizeof(buf),
				    VD_ZEROES));
}

/* efa/bnxt_re style: pin + map once, never give it back. */
TEST_F(bar, pinned_importer_is_refused)
{
	VD_ASSERT_ERR(EOPNOTSUPP, import(self->edu, self->dmabuf, EDU_P2P_PINNED, 0, 0));
	refused_leaves_nothing(_metadata, self, 0x6200, 0x0);
}

/* ib_core's own pinned umem importer, as reg_user_mr_dmabuf() uses it. */
TEST_F(bar, ib_umem_importer_is_refused)
{
	NEED_MODE(self->edu, EDU_P2P_IB_UMEM);
	VD_ASSERT_ERR(EOPNOTSUPP, import(self->edu, self->dmabuf, EDU_P2P_IB_UMEM, 0, SZ_4K));
	refused_leaves_nothing(_metadata, self, 0x6210, 0x2000);
}

/*
 * A pinned importer that gives its mapping back when told. Mainline tells it
 * from a pinned one (dma_buf_attach_revocable()) and accepts it: it works
 * until the first revoke, which ends it for good. 6.x gives an exporter no
 * way to tell, so ours refuses it like any pinned importer.
 */
TEST_F(bar, pinned_revocable_importer)
{
	unsigned char buf[2048];
	struct edu_p2p_status st;

	if (!vd_env_is_mainline()) {
		VD_ASSERT_ERR(EOPNOTSUPP, import(self->edu, self->dmabuf, EDU_P2P_PINNED_REVOCABLE, 0, 0));
		refused_leaves_nothing(_metadata, self, 0x6220, 0x4000);
		return;
	}
	VD_ASSERT_OK(import(self->edu, self->dmabuf, EDU_P2P_PINNED_REVOCABLE, 0, 0));
	vd_pattern(buf, sizeof(buf), 0x6220);
	VD_ASSERT_OK(vd_edu_xfer(self->edu, EDU_P2P_WRITE, 0x4000, buf, sizeof(buf)));
	ASSERT_EQ(0, ioctl(self->dev.fd, VFIO_DEVICE_RESET));
	st = vd_edu_status(self->edu);
	/* told at the revoke, and again at the re-grant */
	ASSERT_LE(1, st.invalidations);
	ASSERT_EQ(0, st.mapped);
	ASSERT_EQ(0, st.pinned);
	/* the BAR is back, but this importer is done with it */
	VD_ASSERT_ERR(ENODEV, vd_edu_xfer(self->edu, EDU_P2P_WRITE, 0x5000, buf, sizeof(buf)));
	ASSERT_EQ(0, vd_host_expect("edu_dma_pinned_revocable", EXPORT_OFF + 0x4000,
				    sizeof(buf), 0x6220));
	ASSERT_EQ(0, vd_host_expect("edu_dma_pinned_revocable_after_revoke",
				    EXPORT_OFF + 0x5000, sizeof(buf), VD_ZEROES));
}

TEST_F(bar, bad_import_is_einval)
{
	VD_ASSERT_ERR(EINVAL, import(self->edu, self->dmabuf, EDU_P2P_NR_MODES, 0, 0));
	VD_ASSERT_ERR(EINVAL, import(self->edu, self->dmabuf, EDU_P2P_DYNAMIC, EXPORT_LEN, 0));
	VD_ASSERT_ERR(EINVAL, import(self->edu, self->dmabuf, EDU_P2P_DYNAMIC, 0, EXPORT_LEN + 1));
}

TEST_HARNESS_MAIN
