// SPDX-License-Identifier: GPL-2.0-only
/*
 * Peer-to-peer DMA into an exported BAR: edu-p2p imports the dma-buf and
 * QEMU's edu engine writes and reads the BAR through the IOMMU. The host
 * checks the bytes in the ivshmem backing file, including a region that
 * must stay untouched because every DMA aimed at it came while revoked.
 *
 * edu takes ~100 ms per transfer under QEMU, so transfers here are few and
 * small; each test uses its own BAR2 region.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vd_test.h"
#include <linux/edu_p2p.h>

#define EXPORT_OFF	0x800000ULL	/* BAR2 offset of the exported range */
#define EXPORT_LEN	0x40000ULL

FIXTURE(p2p) {
	struct vd_dev dev;
	int edu;
	unsigned char *bar;
	uint64_t bar_size;
};

FIXTURE_SETUP(p2p)
{
	const struct vfio_region_dma_range r = { EXPORT_OFF, EXPORT_LEN };
	struct vfio_region_info ri;
	int fd;

	self->edu = -1;
	self->bar = MAP_FAILED;
	if (access("/dev/edu-p2p", F_OK))
		SKIP(return, "edu-p2p is not built for this kernel");
	vd_test_open(_metadata, &self->dev);
	ASSERT_EQ(0, vd_region_info(&self->dev, VD_IVSHMEM_BAR, &ri));
	self->bar_size = ri.size;
	self->bar = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->dev.fd, ri.offset);
	ASSERT_NE(MAP_FAILED, self->bar);
	fd = VD_ASSERT_OK(vd_export(self->dev.fd, VD_IVSHMEM_BAR, O_CLOEXEC, 0, &r, 1, 0));
	self->edu = open("/dev/edu-p2p", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->edu);
	VD_ASSERT_OK(vd_edu_import(self->edu, fd, EDU_P2P_DYNAMIC, 0, 0, NULL));
	close(fd);
}

FIXTURE_TEARDOWN(p2p)
{
	if (self->edu >= 0)
		close(self->edu);
	if (self->bar != MAP_FAILED)
		munmap(self->bar, self->bar_size);
	vd_close(&self->dev);
}

/* DMA-write 4 KiB at several offsets; the host finds them in the BAR's file. */
TEST_F(p2p, dma_write_lands_in_the_bar)
{
	static const uint64_t offs[] = { 0, 0x3000, 0x21000 };
	unsigned char buf[SZ_4K];
	char what[64];
	unsigned int i;

	for (i = 0; i < 3; i++) {
		vd_pattern(buf, sizeof(buf), 0x5150 + i);
		VD_ASSERT_OK(vd_edu_xfer(self->edu, EDU_P2P_WRITE, offs[i], buf, sizeof(buf)));
		/* the CPU sees it through the VFIO mmap as well */
		ASSERT_EQ(0, memcmp(self->bar + EXPORT_OFF + offs[i], buf, sizeof(buf)));
		snprintf(what, sizeof(what), "edu_dma_write_%u", i);
		ASSERT_EQ(0, vd_host_expect(what, EXPORT_OFF + offs[i], sizeof(buf), 0x5150 + i));
	}
	ASSERT_EQ(3 * SZ_4K, vd_edu_status(self->edu).dma_bytes);
}

/* The CPU writes the BAR, edu DMA-reads it back. */
TEST_F(p2p, dma_read_returns_the_bar_bytes)
{
	vd_test_edu_reads_back(_metadata, self->edu, self->bar + EXPORT_OFF + 0x10000,
			       0x10000, 0x5160);
}

TEST_F(p2p, range_outside_the_dmabuf_is_refused)
{
	vd_test_edu_refuses_past(_metadata, self->edu, EXPORT_LEN);
}

/*
 * Revoked (memory decode off): every DMA fails with ENODEV and none reaches
 * the BAR, which the host checks; back on, the importer maps again.
 */
TEST_F(p2p, revoked_dma_fails_and_recovers)
{
	unsigned char buf[SZ_4K];
	struct edu_p2p_status st;
	int i;

	vd_pattern(buf, sizeof(buf), 0x5170);
	ASSERT_EQ(0, vd_edu_xfer(self->edu, EDU_P2P_WRITE, 0x30000, buf, sizeof(buf)));
	ASSERT_EQ(0, vd_set_memory_enable(&self->dev, 0));
	for (i = 0; i < 3; i++) {
		VD_ASSERT_ERR(ENODEV, vd_edu_xfer(self->edu, EDU_P2P_WRITE, 0x32000, buf, sizeof(buf)));
	}
	st = vd_edu_status(self->edu);
	ASSERT_EQ(0, st.mapped);
	ASSERT_EQ(1, st.invalidations);
	ASSERT_EQ(3, st.revoked);
	ASSERT_EQ(0, vd_host_expect("edu_dma_while_revoked_never_landed",
				    EXPORT_OFF + 0x32000, SZ_4K, VD_ZEROES));
	ASSERT_EQ(0, vd_set_memory_enable(&self->dev, 1));
	vd_pattern(buf, sizeof(buf), 0x5171);
	VD_ASSERT_OK(vd_edu_xfer(self->edu, EDU_P2P_WRITE, 0x34000, buf, sizeof(buf)));
	ASSERT_EQ(2, vd_edu_status(self->edu).maps);
	ASSERT_EQ(0, vd_host_expect("edu_dma_before_revoke", EXPORT_OFF + 0x30000,
				    SZ_4K, 0x5170));
	ASSERT_EQ(0, vd_host_expect("edu_dma_after_regrant", EXPORT_OFF + 0x34000,
				    SZ_4K, 0x5171));
}

/* A reset between two transfers: the second maps again and lands. */
TEST_F(p2p, reset_between_transfers)
{
	unsigned char buf[SZ_4K];

	vd_pattern(buf, sizeof(buf), 0x5180);
	ASSERT_EQ(0, vd_edu_xfer(self->edu, EDU_P2P_WRITE, 0x38000, buf, 2048));
	ASSERT_EQ(0, ioctl(self->dev.fd, VFIO_DEVICE_RESET)) TH_LOG("reset: %s", strerror(errno));
	VD_ASSERT_OK(vd_edu_xfer(self->edu, EDU_P2P_WRITE, 0x38000 + 2048, buf + 2048, 2048));
	ASSERT_EQ(2, vd_edu_status(self->edu).maps);
	ASSERT_EQ(0, vd_host_expect("edu_dma_across_a_reset", EXPORT_OFF + 0x38000,
				    SZ_4K, 0x5180));
}

struct revoker {
	struct vd_dev *dev;
	atomic_int started;	/* DMAs done before the revoke may begin */
	atomic_int revoked;	/* the revoke has returned */
};

static void *revoke_thread(void *arg)
{
	struct revoker *r = arg;

	while (atomic_load(&r->started) < 2)
		usleep(1000);
	vd_set_memory_enable(r->dev, 0);
	atomic_store(&r->revoked, 1);
	return NULL;
}

/*
 * Revoke in the middle of a DMA loop, from another thread. A transfer in
 * flight when the revoke starts finishes first (the revoke waits for it);
 * every transfer started after the revoke returned fails with ENODEV, and
 * the host checks that none of their target bytes changed.
 */
TEST_F_TIMEOUT(p2p, revoke_mid_loop, 180)
{
	struct revoker r = { .dev = &self->dev };
	unsigned char buf[2048];
	int after = 0, ret;
	time_t end = time(NULL) + 120;
	pthread_t t;
	char what[64];

	vd_pattern(buf, sizeof(buf), 0x5190);
	ASSERT_EQ(0, pthread_create(&t, NULL, revoke_thread, &r));
	while (after < 3 && time(NULL) < end) {
		int revoked = atomic_load(&r.revoked);
		/* before the revoke: one region; after it: one region per attempt */
		uint64_t off = revoked ? 0x3c000 + after * sizeof(buf) : 0x3a000;

		ret = vd_edu_xfer(self->edu, EDU_P2P_WRITE, off, buf, sizeof(buf));
		if (revoked) {
			ASSERT_EQ(-ENODEV, ret) TH_LOG("a DMA started after the revoke: %s",
						       vd_strerr(ret));
			snprintf(what, sizeof(what), "edu_dma_after_revoke_%d", after);
			ASSERT_EQ(0, vd_host_expect(what, EXPORT_OFF + off, sizeof(buf), VD_ZEROES));
			after++;
		} else {
			ASSERT_TRUE(ret == 0 || ret == -ENODEV) TH_LOG("DMA: %s", vd_strerr(ret));
			/* a NIC's queue is not a spin on the lock: let the revoker in */
			usleep(20000);
		}
		atomic_fetch_add(&r.started, 1);
	}
	pthread_join(t, NULL);
	ASSERT_EQ(3, after) TH_LOG("the revoke never came");
	ASSERT_EQ(1, vd_edu_status(self->edu).invalidations);
	ASSERT_EQ(0, vd_set_memory_enable(&self->dev, 1));
	ASSERT_EQ(0, vd_edu_xfer(self->edu, EDU_P2P_WRITE, 0x3a000, buf, sizeof(buf)));
	ASSERT_EQ(0, vd_host_expect("edu_dma_before_and_after_revoke_mid_loop",
				    EXPORT_OFF + 0x3a000, sizeof(buf), 0x5190));
}

TEST_HARNESS_MAIN
