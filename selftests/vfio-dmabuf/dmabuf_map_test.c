// SPDX-License-Identifier: GPL-2.0-only
/*
 * An importer attaches to an exported BAR and maps it: the sg table it gets
 * covers exactly the ranges asked for, a dma-buf born while memory decode
 * is off cannot be mapped, and closing the device takes the BAR back from
 * an importer and waits until it has let go.
 *
 * The importer is vd_test_importer (selftests/vfio-dmabuf/importer), a
 * dynamic importer like an RDMA driver with on-demand paging.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vd_test.h"


FIXTURE(map) {
	struct vd_dev dev;
	uint32_t bar;
	uint64_t bar_size;
	int imp;
};

FIXTURE_SETUP(map)
{
	self->imp = -1;
	VD_NEED_IMPORTER();
	self->imp = VD_ASSERT_OK(vd_importer_open());
	vd_test_open(_metadata, &self->dev);
	self->bar = vd_test_bar(_metadata, &self->dev, &self->bar_size);
}

FIXTURE_TEARDOWN(map)
{
	if (self->imp >= 0)
		close(self->imp);
	vd_close(&self->dev);
}

/* Export @r, attach the importer, close our dma-buf fd (the importer holds it). */
static int export_attach(FIXTURE_DATA(map) *self, const struct vfio_region_dma_range *r,
			 uint32_t nr, uint32_t flags)
{
	int imp = self->imp;
	int fd = vd_export(self->dev.fd, self->bar, O_CLOEXEC, 0, r, nr, 0);
	int ret;

	if (fd < 0)
		return fd;
	ret = vd_importer_attach(imp, fd, flags);
	close(fd);
	return ret;
}

TEST_F(map, one_range_maps_to_one_segment)
{
	struct vdti_status st;

	ASSERT_EQ(0, export_attach(self, &page0, 1, 0));
	ASSERT_EQ(1, VD_ASSERT_OK(vd_importer_map(self->imp)));
	st = vd_importer_status(self->imp);
	ASSERT_EQ(1, st.mapped);
	ASSERT_EQ(SZ_4K, st.dma_len);
	ASSERT_EQ(0, vd_importer_unmap(self->imp));
	ASSERT_EQ(0, vd_importer_status(self->imp).mapped);
}

TEST_F(map, whole_bar_maps_to_one_segment)
{
	const struct vfio_region_dma_range r = { .offset = 0, .length = self->bar_size };

	ASSERT_EQ(0, export_attach(self, &r, 1, 0));
	ASSERT_EQ(1, vd_importer_map(self->imp));
	ASSERT_EQ(self->bar_size, vd_importer_status(self->imp).dma_len);
	ASSERT_EQ(self->bar_size, vd_importer_status(self->imp).max_seg);
}

/*
 * Ours maps each range on its own: one segment per range. Mainline links
 * every range at IOVA offset 0 in dma_buf_phys_vec_to_sgt() (its
 * dma_iova_link() call passes 0, not the length mapped so far), so any
 * dma-buf of two or more ranges fails to map through an IOMMU with
 * EADDRINUSE (upstream/, multi-range). Fixed, mainline links the ranges
 * one after the other into a single IOVA: one segment for all of them.
 */
TEST_F(map, each_range_is_a_segment)
{
	const uint32_t nr = 256;
	struct vfio_region_dma_range r[256];
	struct vdti_status st;
	uint32_t i;
	int ret;

	if (self->bar_size < 2 * nr * SZ_4K)
		SKIP(return, "a BAR of %llu bytes: needs 2 MiB",
		     (unsigned long long)self->bar_size);
	for (i = 0; i < nr; i++) {
		r[i].offset = (uint64_t)(nr - 1 - i) * 2 * SZ_4K;
		r[i].length = SZ_4K;
	}
	ASSERT_EQ(0, export_attach(self, r, nr, 0));
	ret = vd_importer_map(self->imp);
	if (vd_env_mainline_bug("multi-range")) {
		ASSERT_EQ(-EADDRINUSE, ret)
			TH_LOG("mainline maps several ranges now (%s): update this test",
			       vd_strerr(ret));
		ksft_print_msg("known mainline bug: several ranges through an IOMMU fail with EADDRINUSE\n");
		return;
	}
	ASSERT_EQ(vd_env_is_mainline() ? 1 : nr, ret) TH_LOG("map: %s", vd_strerr(ret));
	st = vd_importer_status(self->imp);
	ASSERT_EQ(nr * SZ_4K, st.dma_len);
	ASSERT_EQ(vd_env_is_mainline() ? nr * SZ_4K : SZ_4K, st.max_seg);
}

/*
 * Every map's sg table is freed at unmap: kmemleak (the debug kernels)
 * reports what is not. Mainline's dma_buf_phys_vec_to_sgt() zeroes the
 * table's orig_nents, which sg_free_table() frees by, so every map leaks
 * its scatterlist (upstream/, sg-leak). Two kmemleak scans of a KASAN
 * kernel under TCG take a while: 3 minutes.
 */
TEST_F_TIMEOUT(map, unmap_frees_the_sg_table, 180)
{
	int i, leaks;

	if (vd_kmemleak_clear() == -ENOENT)
		SKIP(return, "a kernel without kmemleak");
	ASSERT_EQ(0, export_attach(self, &page0, 1, 0));
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(1, vd_importer_map(self->imp));
		VD_ASSERT_OK(vd_importer_unmap(self->imp));
	}
	/* the importer lets go of the dma-buf: nothing of it is referenced */
	close(self->imp);
	self->imp = -1;
	leaks = VD_ASSERT_OK(vd_kmemleak_count("sg_alloc_table"));
	if (vd_env_mainline_bug("sg-leak")) {
		ASSERT_LE(64, leaks) TH_LOG("mainline frees its sg tables now: update this test");
		ksft_print_msg("known mainline bug: every map leaks its scatterlist\n");
		return;
	}
	ASSERT_EQ(0, leaks) TH_LOG("sg tables leaked by 64 maps, as kmemleak says");
}

TEST_F(map, remap_after_unmap)
{
	int i;

	ASSERT_EQ(0, export_attach(self, &page0, 1, 0));
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(1, vd_importer_map(self->imp));
		ASSERT_EQ(0, vd_importer_unmap(self->imp));
	}
	ASSERT_EQ(100, vd_importer_status(self->imp).maps);
	ASSERT_EQ(100, vd_importer_status(self->imp).unmaps);
}

TEST_F(map, importer_without_p2p_is_refused)
{
	ASSERT_EQ(-EOPNOTSUPP, export_attach(self, &page0, 1, VDTI_NO_P2P));
}

/*
 * An importer that pins its attachment and then maps is refused: a revoke
 * could not take a pinned mapping back. Where it is refused depends on the
 * kernel (dmabuf.c, "Importers that pin"), and this test tells which branch
 * ran: with CONFIG_DMABUF_MOVE_NOTIFY the dma-buf core never pins for a
 * dynamic importer, so every pin is the importer's and the pin fails, and
 * the importer, still unpinned, may map; without it the core pins around
 * every map itself, the pin succeeds, and the map made under it fails.
 * Mainline accepts both: this importer gives its mapping back when told
 * (dma_buf_attach_revocable()). docs/errno-table.md shows each kernel's.
 */
TEST_F(map, importer_that_pins_before_it_maps)
{
	int move_notify = vd_kconfig("DMABUF_MOVE_NOTIFY");
	int pin, map;

	if (move_notify < 0)
		SKIP(return, "the kernel's config is not readable: set VD_KCONFIG");
	ASSERT_EQ(0, export_attach(self, &page0, 1, 0));
	pin = vd_importer_pin(self->imp, 1);
	map = vd_importer_map(self->imp);
	vd_op_row("importer pins, then maps: the pin", pin);
	vd_op_row("importer pins, then maps: the map", map < 0 ? map : 0);
	if (vd_env_is_mainline()) {
		VD_ASSERT_OK(pin);
		ASSERT_EQ(1, map);
	} else if (move_notify) {
		VD_ASSERT_ERR(EOPNOTSUPP, pin);
		ASSERT_EQ(1, map);
	} else {
		VD_ASSERT_OK(pin);
		VD_ASSERT_ERR(EOPNOTSUPP, map);
	}
	ASSERT_EQ(pin == 0, vd_importer_status(self->imp).pinned);
}

TEST_F(map, born_revoked_while_memory_decode_is_off)
{
	ASSERT_EQ(0, vd_set_memory_enable(&self->dev, 0));
	ASSERT_EQ(-ENODEV, export_attach(self, &page0, 1, 0));
	ASSERT_EQ(0, vd_set_memory_enable(&self->dev, 1));
}

/* The importer holds the dma-buf; the exporter's module is held until it lets go. */
TEST_F(map, importer_keeps_the_dmabuf_after_its_fd_closes)
{
	const char *mod = vd_env_exporter_module();
	int refs = vd_module_refcnt(mod);

	ASSERT_EQ(0, export_attach(self, &page0, 1, 0));
	ASSERT_EQ(refs + 1, vd_module_refcnt(mod));
	ASSERT_EQ(1, vd_importer_map(self->imp));
	close(self->imp);
	self->imp = -1;
	ASSERT_EQ(refs, vd_module_refcnt(mod));
}

/* Device close revokes for good: the importer is told, and cannot map again. */
TEST_F(map, device_close_revokes)
{
	struct vdti_status st;

	ASSERT_EQ(0, export_attach(self, &page0, 1, 0));
	ASSERT_EQ(1, vd_importer_map(self->imp));
	vd_close(&self->dev);
	st = vd_importer_status(self->imp);
	ASSERT_EQ(1, st.move_notifies);
	ASSERT_EQ(1, st.invalidated);
	ASSERT_EQ(0, st.mapped);
	VD_ASSERT_ERR(ENODEV, vd_importer_map(self->imp));
}

struct closer {
	struct vd_dev *dev;
	volatile int done;
};

static void *close_thread(void *arg)
{
	struct closer *c = arg;

	vd_close(c->dev);
	c->done = 1;
	return NULL;
}

/*
 * Revoke waits until the importer has unmapped: a lazy importer keeps its
 * mapping after move_notify, and the close that revokes cannot finish until
 * it lets go.
 */
TEST_F(map, revoke_waits_for_the_importer_to_unmap)
{
	struct closer c = { .dev = &self->dev };
	pthread_t t;
	int i;

	ASSERT_EQ(0, export_attach(self, &page0, 1, VDTI_LAZY));
	ASSERT_EQ(1, vd_importer_map(self->imp));
	ASSERT_EQ(0, pthread_create(&t, NULL, close_thread, &c));
	for (i = 0; i < 100 && vd_importer_status(self->imp).move_notifies == 0; i++)
		usleep(10000);
	ASSERT_EQ(1, vd_importer_status(self->imp).move_notifies);
	usleep(500000);
	ASSERT_EQ(0, c.done) TH_LOG("revoke returned while the importer still mapped the BAR");
	ASSERT_EQ(1, vd_importer_status(self->imp).mapped);
	ASSERT_EQ(0, vd_importer_unmap(self->imp));
	pthread_join(t, NULL);
	ASSERT_EQ(1, c.done);
	VD_ASSERT_ERR(ENODEV, vd_importer_map(self->imp));
}

TEST_HARNESS_MAIN
