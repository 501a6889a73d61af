// SPDX-License-Identifier: GPL-2.0-only
/*
 * Races between the paths that create, use and drop dma-bufs and the paths
 * that revoke them. Each test runs a loop of at least VD_RACE_LOOPS
 * iterations on one thread while another thread keeps revoking, then checks
 * that the exporter's module count is back to its baseline. A kernel splat
 * or a hang fails the run on its own (the host watches the console).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vd_test.h"

#define VD_RACE_LOOPS	1000

struct race {
	struct vd_dev dev;
	uint32_t bar;
	atomic_int stop;
	atomic_long revokes;
	int (*revoke)(struct race *r);
};

static int revoke_by_memory_disable(struct race *r)
{
	if (vd_set_memory_enable(&r->dev, 0))
		return -1;
	return vd_set_memory_enable(&r->dev, 1);
}

static int revoke_by_reset(struct race *r)
{
	return ioctl(r->dev.fd, VFIO_DEVICE_RESET);
}

static void *revoker(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		if (r->revoke(r))
			break;
		atomic_fetch_add(&r->revokes, 1);
	}
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Export, attach, map and drop it all; errors from a revoke in between are fine. */
static int export_attach_map_drop(struct race *r, int imp_dev)
{
	int fd, imp, ret;

	fd = vd_export(r->dev.fd, r->bar, O_CLOEXEC, 0, &page0, 1, 0);
	if (fd < 0)
		return fd;
	if (!imp_dev) {
		close(fd);
		return 0;
	}
	imp = vd_importer_open();
	if (imp < 0) {
		close(fd);
		return imp;
	}
	/* attach or map may meet a revoke: ENODEV is the expected answer */
	ret = vd_importer_attach(imp, fd, 0);
	if (!ret)
		ret = vd_importer_map(imp);
	if (ret == -ENODEV || ret > 0)
		ret = 0;
	/* alternate which goes first: the importer's release or the dma-buf fd */
	if (rand() & 1) {
		close(imp);
		close(fd);
	} else {
		close(fd);
		close(imp);
	}
	return ret;
}

/*
 * Export a page and, when the importer is there, attach and map it: *fd is
 * the dma-buf, *imp the importer (-1 without one). 0 or -errno.
 */
static int export_mapped(struct race *r, int importer, int *fd, int *imp)
{
	int ret;

	*imp = -1;
	*fd = vd_export(r->dev.fd, r->bar, O_CLOEXEC, 0, &page0, 1, 0);
	if (*fd < 0)
		return *fd;
	if (!importer)
		return 0;
	*imp = ret = vd_importer_open();
	if (*imp >= 0)
		ret = vd_importer_attach(*imp, *fd, 0);
	if (!ret)
		ret = vd_importer_map(*imp);
	return ret == 1 ? 0 : ret < 0 ? ret : -EIO;
}

FIXTURE(race) {
	struct race r;
	int base;
	int importer;
};

FIXTURE_SETUP(race)
{
	vd_test_open(_metadata, &self->r.dev);
	self->r.bar = vd_test_bar(_metadata, &self->r.dev, NULL);
	self->base = vd_module_refcnt(vd_env_exporter_module());
	self->importer = !access("/dev/vd_test_importer", F_OK);
	srand(1);
}

FIXTURE_TEARDOWN(race)
{
	vd_close(&self->r.dev);
}

/*
 * Export/attach/map/drop on this thread while another revokes, until each
 * side has run at least @loops times.
 */
static void run_race(struct __test_metadata *_metadata, struct race *r,
		     int importer, int loops)
{
	double t0 = now();
	pthread_t t;
	int i, ret = 0;

	atomic_store(&r->stop, 0);
	atomic_store(&r->revokes, 0);
	ASSERT_EQ(0, pthread_create(&t, NULL, revoker, r));
	for (i = 0; i < loops || atomic_load(&r->revokes) < loops; i++) {
		ret = export_attach_map_drop(r, importer);
		if (ret)
			break;
	}
	atomic_store(&r->stop, 1);
	pthread_join(t, NULL);
	ASSERT_EQ(0, ret) TH_LOG("iteration %d: %s", i, vd_strerr(ret));
	ASSERT_LE(loops, atomic_load(&r->revokes)) TH_LOG("the revoker stopped early");
	ksft_print_msg("%d export/attach/map/drop loops against %ld revokes in %.1f s\n",
		       i, atomic_load(&r->revokes), now() - t0);
}

/* dma-buf release and importer release against revoke by memory disable */
TEST_F_TIMEOUT(race, release_vs_memory_disable_revoke, 900)
{
	self->r.revoke = revoke_by_memory_disable;
	run_race(_metadata, &self->r, self->importer, VD_RACE_LOOPS);
	ASSERT_EQ(self->base, vd_module_refcnt(vd_env_exporter_module()));
}

/* export (and release) against device resets */
TEST_F_TIMEOUT(race, export_vs_reset, 900)
{
	self->r.revoke = revoke_by_reset;
	run_race(_metadata, &self->r, self->importer, VD_RACE_LOOPS);
	ASSERT_EQ(self->base, vd_module_refcnt(vd_env_exporter_module()));
}

/* device close (which revokes and detaches) against live importers */
TEST_F_TIMEOUT(race, device_close_vs_importer, 900)
{
	char bdf[32];
	int i, imp, fd;

	snprintf(bdf, sizeof(bdf), "%s", self->r.dev.bdf);
	for (i = 0; i < VD_RACE_LOOPS; i++) {
		ASSERT_EQ(0, export_mapped(&self->r, self->importer, &fd, &imp));
		if (i & 1)
			close(fd);
		vd_close(&self->r.dev);
		if (imp >= 0) {
			VD_ASSERT_ERR(ENODEV, vd_importer_map(imp));
			close(imp);
		}
		if (!(i & 1))
			close(fd);
		ASSERT_EQ(0, vd_open_group(&self->r.dev, bdf));
	}
	ASSERT_EQ(self->base, vd_module_refcnt(vd_env_exporter_module()));
}

/* unbind and rebind the driver while dma-bufs of the old binding are open */
TEST_F_TIMEOUT(race, unbind_vs_open_dmabuf, 900)
{
	char bdf[32];
	int i, fd, imp;

	snprintf(bdf, sizeof(bdf), "%s", self->r.dev.bdf);
	for (i = 0; i < VD_RACE_LOOPS; i++) {
		ASSERT_EQ(0, export_mapped(&self->r, self->importer, &fd, &imp));
		vd_close(&self->r.dev);
		ASSERT_EQ(0, vd_unbind(bdf));
		ASSERT_EQ(0, vd_bind(bdf, vd_env_driver()));
		if (imp >= 0) {
			VD_ASSERT_ERR(ENODEV, vd_importer_map(imp));
			close(imp);
		}
		close(fd);
		ASSERT_EQ(0, vd_open_group(&self->r.dev, bdf));
	}
	ASSERT_EQ(self->base, vd_module_refcnt(vd_env_exporter_module()));
}

TEST_HARNESS_MAIN
