// SPDX-License-Identifier: GPL-2.0-only
/*
 * Every allocation failure on the export, attach, map and mmap paths, one at a
 * time, with fail_nth (Documentation/fault-injection): for n = 1, 2, ...
 * write n to /proc/thread-self/fail-nth, make the call, and see whether the
 * n-th fault point was reached. Each call that failed must have returned a
 * clean ENOMEM and left nothing behind (the exporter's module count, fds,
 * the dma-buf itself in debugfs bufinfo), and the device must still export
 * and map. The sweep ends at the first n the call runs through without
 * reaching; a call that reached its n-th fault point and still succeeded
 * (an allocation with a fallback) is counted, not failed. With kmemleak,
 * as on the rig's debug kernel, every slab allocation is two fault points:
 * the object, then kmemleak's record of it, whose failure kmemleak absorbs
 * from its pool; so odd n fail the call and even n are absorbed.
 *
 * failslab skips allocations that may sleep unless told otherwise:
 * ignore-gfp-wait is set to N for the test, and verbose to 0 (its default
 * prints a stack trace per failure, which the rig would take for a splat).
 *
 * Needs CONFIG_FAULT_INJECTION, CONFIG_FAILSLAB and
 * CONFIG_FAULT_INJECTION_DEBUG_FS: the rig's "dbg" kernel. Debian's kernels
 * have none of them, and the tests skip there.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vd_test.h"

#define MAX_NTH		1000
#define FAILSLAB	"/sys/kernel/debug/failslab/"

static const struct {
	const char *file, *val;
} knobs[] = {
	{ FAILSLAB "ignore-gfp-wait", "N" },
	{ FAILSLAB "verbose", "0" },
	{ "/sys/kernel/debug/fail_page_alloc/verbose", "0" },
};
#define NR_KNOBS	(sizeof(knobs) / sizeof(knobs[0]))

/* The export request, laid out before arming: nothing allocates in between. */
struct export_req {
	struct vfio_device_feature f;
	struct vfio_device_feature_dma_buf db;
	struct vfio_region_dma_range r[2];
};

FIXTURE(failnth) {
	struct vd_dev dev;
	int nth;
	int refs, fds, bufs;
	bool importer;
	char saved[NR_KNOBS][32];
	struct export_req req;
};

FIXTURE_SETUP(failnth)
{
	unsigned int i;

	self->nth = -1;
	if (access("/proc/thread-self/fail-nth", F_OK))
		SKIP(return, "no /proc/thread-self/fail-nth: kernel without CONFIG_FAULT_INJECTION");
	if (access(FAILSLAB, F_OK))
		SKIP(return, "no " FAILSLAB ": kernel without CONFIG_FAILSLAB or "
		     "CONFIG_FAULT_INJECTION_DEBUG_FS, or debugfs not mounted");
	for (i = 0; i < NR_KNOBS; i++) {
		if (vd_read_file(knobs[i].file, self->saved[i], sizeof(self->saved[i])))
			continue;	/* fail_page_alloc is optional */
		ASSERT_EQ(0, vd_write_file(knobs[i].file, knobs[i].val))
			TH_LOG("write %s to %s", knobs[i].val, knobs[i].file);
	}
	self->nth = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->nth) TH_LOG("open fail-nth: %s", strerror(errno));
	vd_test_open(_metadata, &self->dev);
	self->importer = !access(VD_IMPORTER_DEV, F_OK);
	self->refs = VD_ASSERT_OK(vd_module_refcnt(vd_env_exporter_module()));
	self->fds = vd_open_fds();
	self->bufs = vd_dmabuf_count(vd_env_exporter_module());

	self->req.f.argsz = sizeof(self->req);
	self->req.f.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
	self->req.db.region_index = VD_IVSHMEM_BAR;
	self->req.db.open_flags = O_RDWR | O_CLOEXEC;
	self->req.db.nr_ranges = 2;
	self->req.r[0].offset = 0x100000;
	self->req.r[0].length = 0x2000;
	self->req.r[1].offset = 0;
	self->req.r[1].length = SZ_4K;
}

FIXTURE_TEARDOWN(failnth)
{
	unsigned int i;

	if (self->nth >= 0) {
		pwrite(self->nth, "0", 1, 0);
		close(self->nth);
	}
	for (i = 0; i < NR_KNOBS; i++)
		if (self->saved[i][0])
			vd_write_file(knobs[i].file, self->saved[i]);
	vd_close(&self->dev);
}

/* Make the @n-th fault point of this thread fail. */
static int arm(int nth, unsigned int n)
{
	char b[16];
	int len = snprintf(b, sizeof(b), "%u", n);

	return pwrite(nth, b, len, 0) == len ? 0 : -errno;
}

/* Whether the armed fault was injected (the file reads 0); disarm. */
static bool injected(int nth)
{
	char b[16] = "";
	bool hit = pread(nth, b, sizeof(b) - 1, 0) > 0 && atoi(b) == 0;

	pwrite(nth, "0", 1, 0);
	return hit;
}

/* The export under test: one ioctl, the request built once. fd or -errno. */
static int export(FIXTURE_DATA(failnth) *self)
{
	int fd = ioctl(self->dev.fd, VFIO_DEVICE_FEATURE, &self->req);

	return fd < 0 ? -errno : fd;
}

/*
 * What a map of the two-range dma-buf gives: a segment per range on ours;
 * one IOVA for both on mainline, which links them one after the other
 * (with upstream/'s multi-range fix: without it, the map fails with
 * EADDRINUSE, and the kernels that have it lack fail-nth).
 */
static int map_segments(void)
{
	return vd_env_is_mainline() ? 1 : 2;
}

/* Nothing left of the failed (or undone) call, and the device works. */
static void check_clean(struct __test_metadata *_metadata, FIXTURE_DATA(failnth) *self,
			const char *call, unsigned int n)
{
	int fd, ret;

	ASSERT_EQ(self->fds, vd_open_fds()) TH_LOG("%s, n = %u: fds leaked", call, n);
	ASSERT_EQ(self->refs, vd_module_refcnt(vd_env_exporter_module()))
		TH_LOG("%s, n = %u: %s's module count is off", call, n, vd_env_exporter_module());
	if (self->bufs >= 0)
		ASSERT_EQ(self->bufs, vd_dmabuf_count(vd_env_exporter_module()))
			TH_LOG("%s, n = %u: a dma-buf was left behind", call, n);
	fd = export(self);
	ASSERT_LE(0, fd) TH_LOG("%s, n = %u: export afterwards: %s", call, n, vd_strerr(fd));
	if (self->importer) {
		ret = vd_importer_roundtrip(fd);
		ASSERT_EQ(map_segments(), ret)
			TH_LOG("%s, n = %u: attach + map + unmap afterwards: %s",
			       call, n, vd_strerr(ret));
	}
	close(fd);
	ASSERT_EQ(self->refs, vd_module_refcnt(vd_env_exporter_module()));
}

struct sweep {
	unsigned int failed, survived, last;	/* n that failed, that succeeded anyway; the end */
	char errs[128];
	char failed_at[256], survived_at[256];	/* the n of each, listed */
};

static void add_n(char *list, size_t len, unsigned int n)
{
	size_t l = strlen(list);

	if (l + 12 < len)
		snprintf(list + l, len - l, "%s%u", l ? "," : "", n);
}

static void report(const char *call, struct sweep *sw)
{
	ksft_print_msg("%s: fault points n = 1..%u: %u failed the call with %s (n = %s), %u were absorbed, the call succeeding (n = %s); n = %u ran through\n",
		       call, sw->last - 1, sw->failed, sw->failed ? sw->errs : "-",
		       sw->failed_at[0] ? sw->failed_at : "-", sw->survived,
		       sw->survived_at[0] ? sw->survived_at : "-", sw->last);
}

static void note_err(struct sweep *sw, int err)
{
	const char *name = strerrorname_np(err) ?: "?";

	if (!strstr(sw->errs, name))
		snprintf(sw->errs + strlen(sw->errs), sizeof(sw->errs) - strlen(sw->errs),
			 "%s%s", sw->errs[0] ? "/" : "", name);
}

/* Count fault point @n: the call succeeded anyway (@ok) or failed with @err. */
static void tally(struct __test_metadata *_metadata, struct sweep *sw,
		  const char *call, unsigned int n, bool ok, int err)
{
	if (ok) {
		sw->survived++;
		add_n(sw->survived_at, sizeof(sw->survived_at), n);
		return;
	}
	sw->failed++;
	add_n(sw->failed_at, sizeof(sw->failed_at), n);
	note_err(sw, err);
	ASSERT_EQ(ENOMEM, err) TH_LOG("%s, fault point %u: %s", call, n, strerrorname_np(err));
}

/* The sweep ran through at @n: report it and check it was a real one. */
static void finish(struct __test_metadata *_metadata, FIXTURE_DATA(failnth) *self,
		   struct sweep *sw, const char *call, const char *what, unsigned int n)
{
	sw->last = n;
	report(what, sw);
	ASSERT_GT(MAX_NTH, n);
	ASSERT_LT(0, sw->failed) TH_LOG("no fault point failed the %s: is failslab on?", call);
	check_clean(_metadata, self, call, n);
}

/*
 * One call swept with fail-nth, after iommufd's TEST_FAIL_NTH: @prepare
 * readies what the call needs (before the fault is armed), @call makes it
 * with the n-th fault point armed (>= 0, or -errno), and @undo checks what
 * the call left, whatever its result, and undoes it.
 */
struct nth_ctx {
	int fd;			/* the dma-buf, or -1 */
	int imp;		/* the test importer, or -1 */
	void *map;		/* its CPU mapping */
};

struct nth_op {
	const char *call;	/* in messages: "export", "attach", "map", "mmap" */
	const char *what;	/* in the report */
	bool needs_importer;
	void (*prepare)(struct __test_metadata *_metadata,
			FIXTURE_DATA(failnth) *self, struct nth_ctx *c);
	int (*call_fn)(FIXTURE_DATA(failnth) *self, struct nth_ctx *c);
	void (*undo)(struct __test_metadata *_metadata, struct nth_ctx *c, int ret);
};

/*
 * For n = 1, 2, ... make the n-th fault point of the call fail, until a run
 * in which no fault was injected: every failure is a clean ENOMEM, and the
 * call leaves nothing behind, failed or not (check_clean).
 */
static void fail_nth_sweep(struct __test_metadata *_metadata, FIXTURE_DATA(failnth) *self,
			   const struct nth_op *op)
{
	struct sweep sw = { 0 };
	struct nth_ctx c;
	unsigned int n;
	bool hit;
	int ret;

	if (op->needs_importer)
		VD_NEED_IMPORTER();
	for (n = 1; n < MAX_NTH; n++) {
		c.fd = c.imp = -1;
		if (op->prepare)
			op->prepare(_metadata, self, &c);
		ASSERT_EQ(0, arm(self->nth, n));
		ret = op->call_fn(self, &c);
		hit = injected(self->nth);
		op->undo(_metadata, &c, ret);
		if (c.imp >= 0)
			close(c.imp);
		if (c.fd >= 0)
			close(c.fd);
		if (!hit) {
			ASSERT_LE(0, ret) TH_LOG("n = %u, no fault injected: %s", n, vd_strerr(ret));
			break;
		}
		tally(_metadata, &sw, op->call, n, ret >= 0, -ret);
		check_clean(_metadata, self, op->call, n);
	}
	finish(_metadata, self, &sw, op->call, op->what, n);
}

static void prepare_importer(struct __test_metadata *_metadata,
			     FIXTURE_DATA(failnth) *self, struct nth_ctx *c)
{
	c->fd = VD_ASSERT_OK(export(self));
	c->imp = VD_ASSERT_OK(vd_importer_open());
}

static void prepare_attached(struct __test_metadata *_metadata,
			     FIXTURE_DATA(failnth) *self, struct nth_ctx *c)
{
	prepare_importer(_metadata, self, c);
	VD_ASSERT_OK(vd_importer_attach(c->imp, c->fd, 0));
}

static int call_export(FIXTURE_DATA(failnth) *self, struct nth_ctx *c)
{
	return export(self);
}

static void undo_export(struct __test_metadata *_metadata, struct nth_ctx *c, int ret)
{
	if (ret >= 0)
		close(ret);
}

static int call_attach(FIXTURE_DATA(failnth) *self, struct nth_ctx *c)
{
	return vd_importer_attach(c->imp, c->fd, 0);
}

static void undo_attach(struct __test_metadata *_metadata, struct nth_ctx *c, int ret)
{
	if (!ret)
		ASSERT_EQ(map_segments(), VD_ASSERT_OK(vd_importer_map(c->imp)));
}

static int call_map(FIXTURE_DATA(failnth) *self, struct nth_ctx *c)
{
	return vd_importer_map(c->imp);
}

/* a failed map leaves the attachment able to map */
static void undo_map(struct __test_metadata *_metadata, struct nth_ctx *c, int ret)
{
	if (ret < 0)
		ret = VD_ASSERT_OK(vd_importer_map(c->imp));
	ASSERT_EQ(map_segments(), ret);
	VD_ASSERT_OK(vd_importer_unmap(c->imp));
}

static void prepare_export(struct __test_metadata *_metadata,
			   FIXTURE_DATA(failnth) *self, struct nth_ctx *c)
{
	c->fd = VD_ASSERT_OK(export(self));
}

#define MMAP_LEN	(3 * SZ_4K)	/* the whole export */

static int call_mmap(FIXTURE_DATA(failnth) *self, struct nth_ctx *c)
{
	c->map = mmap(NULL, MMAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	return c->map == MAP_FAILED ? -errno : 0;
}

/*
 * A mapping made is whole: every page faults in and takes a write; a
 * failed one is counted nowhere (our debugfs: no vma of the dma-buf).
 */
static void undo_mmap(struct __test_metadata *_metadata, struct nth_ctx *c, int ret)
{
	char bdf[VD_BDF_LEN];
	struct stat st;

	if (!ret) {
		volatile unsigned char *p = c->map;

		for (size_t off = 0; off < MMAP_LEN; off += SZ_4K) {
			p[off + 1] = 0x5a;
			ASSERT_EQ(0x5a, p[off + 1]);
			p[off + 1] = 0;
		}
		ASSERT_EQ(0, munmap(c->map, MMAP_LEN));
	}
	ASSERT_EQ(0, vd_env_bdf(bdf, sizeof(bdf)));
	ASSERT_EQ(0, fstat(c->fd, &st));
	ASSERT_EQ(0, vd_dbg_dmabuf(bdf, st.st_ino, "vmas")) TH_LOG("a vma was left counted");
}

TEST_F_TIMEOUT(failnth, mmap, 600)
{
	const struct nth_op op = {
		.call = "mmap", .what = "mmap of the dma-buf",
		.prepare = prepare_export, .call_fn = call_mmap, .undo = undo_mmap,
	};

	if (vd_env_is_mainline())
		SKIP(return, "mainline has no dma-buf mmap");
	fail_nth_sweep(_metadata, self, &op);
}

TEST_F_TIMEOUT(failnth, export, 600)
{
	const struct nth_op op = {
		.call = "export", .what = "export",
		.call_fn = call_export, .undo = undo_export,
	};

	fail_nth_sweep(_metadata, self, &op);
}

TEST_F_TIMEOUT(failnth, importer_attach, 600)
{
	const struct nth_op op = {
		.call = "attach", .what = "importer attach", .needs_importer = true,
		.prepare = prepare_importer, .call_fn = call_attach, .undo = undo_attach,
	};

	fail_nth_sweep(_metadata, self, &op);
}

TEST_F_TIMEOUT(failnth, importer_map, 600)
{
	const struct nth_op op = {
		.call = "map", .what = "importer map", .needs_importer = true,
		.prepare = prepare_attached, .call_fn = call_map, .undo = undo_map,
	};

	fail_nth_sweep(_metadata, self, &op);
}

TEST_HARNESS_MAIN
