// SPDX-License-Identifier: GPL-2.0-only
/*
 * Every allocation failure on the export, attach and map paths, one at a
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
#include <unistd.h>

#include "kselftest_harness.h"
#include "vd_lib.h"
#include "vd_test_importer.h"

#define SZ_4K		0x1000ULL
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
	char bdf[32];
	unsigned int i;

	self->nth = -1;
	self->dev.fd = self->dev.group = self->dev.container = -1;
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
	ASSERT_EQ(0, vd_find_bdf(bdf, sizeof(bdf)));
	ASSERT_EQ(0, vd_open_group(&self->dev, bdf));
	ASSERT_EQ(0, vd_set_memory_enable(&self->dev, 1));
	self->importer = !access("/dev/vd_test_importer", F_OK);
	self->refs = vd_module_refcnt(vd_exporter_module());
	ASSERT_LE(0, self->refs);
	self->fds = vd_open_fds();
	self->bufs = vd_dmabuf_count(vd_exporter_module());

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

static int export(FIXTURE_DATA(failnth) *self)
{
	return ioctl(self->dev.fd, VFIO_DEVICE_FEATURE, &self->req);
}

static int attach(int imp, int fd)
{
	struct vdti_attach a = { .fd = fd };

	return ioctl(imp, VDTI_ATTACH, &a);
}

/* Nothing left of the failed (or undone) call, and the device works. */
static void check_clean(struct __test_metadata *_metadata, FIXTURE_DATA(failnth) *self,
			const char *call, unsigned int n)
{
	int fd, ret;

	ASSERT_EQ(self->fds, vd_open_fds()) TH_LOG("%s, n = %u: fds leaked", call, n);
	ASSERT_EQ(self->refs, vd_module_refcnt(vd_exporter_module()))
		TH_LOG("%s, n = %u: %s's module count is off", call, n, vd_exporter_module());
	if (self->bufs >= 0)
		ASSERT_EQ(self->bufs, vd_dmabuf_count(vd_exporter_module()))
			TH_LOG("%s, n = %u: a dma-buf was left behind", call, n);
	fd = export(self);
	ASSERT_LE(0, fd) TH_LOG("%s, n = %u: export afterwards: %s", call, n, strerror(errno));
	if (self->importer) {
		ret = vd_importer_roundtrip(fd);
		ASSERT_EQ(2, ret) TH_LOG("%s, n = %u: attach + map + unmap afterwards: %s",
					 call, n, strerror(-ret));
	}
	close(fd);
	ASSERT_EQ(self->refs, vd_module_refcnt(vd_exporter_module()));
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

TEST_F_TIMEOUT(failnth, export, 600)
{
	struct sweep sw = { 0 };
	unsigned int n;
	int fd, err;
	bool hit;

	for (n = 1; n < MAX_NTH; n++) {
		ASSERT_EQ(0, arm(self->nth, n));
		fd = export(self);
		err = errno;
		hit = injected(self->nth);
		if (!hit) {
			ASSERT_LE(0, fd) TH_LOG("n = %u, no fault injected: %s", n, strerror(err));
			close(fd);
			break;
		}
		tally(_metadata, &sw, "export", n, fd >= 0, err);
		if (fd >= 0)
			close(fd);
		check_clean(_metadata, self, "export", n);
	}
	finish(_metadata, self, &sw, "export", "export", n);
}

TEST_F_TIMEOUT(failnth, importer_attach, 600)
{
	struct sweep sw = { 0 };
	unsigned int n;
	int fd, imp, ret, err;
	bool hit;

	if (!self->importer)
		SKIP(return, "vd_test_importer is not built for this kernel");
	for (n = 1; n < MAX_NTH; n++) {
		fd = export(self);
		ASSERT_LE(0, fd);
		imp = open("/dev/vd_test_importer", O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, imp);
		ASSERT_EQ(0, arm(self->nth, n));
		ret = attach(imp, fd);
		err = errno;
		hit = injected(self->nth);
		if (!ret)
			ASSERT_EQ(2, ioctl(imp, VDTI_MAP)) TH_LOG("map after attach: %s",
								  strerror(errno));
		close(imp);
		close(fd);
		if (!hit) {
			ASSERT_EQ(0, ret) TH_LOG("n = %u, no fault injected: %s", n, strerror(err));
			break;
		}
		tally(_metadata, &sw, "attach", n, !ret, err);
		check_clean(_metadata, self, "attach", n);
	}
	finish(_metadata, self, &sw, "attach", "importer attach", n);
}

TEST_F_TIMEOUT(failnth, importer_map, 600)
{
	struct sweep sw = { 0 };
	unsigned int n;
	int fd, imp, ret, err;
	bool hit;

	if (!self->importer)
		SKIP(return, "vd_test_importer is not built for this kernel");
	for (n = 1; n < MAX_NTH; n++) {
		fd = export(self);
		ASSERT_LE(0, fd);
		imp = open("/dev/vd_test_importer", O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, imp);
		ASSERT_EQ(0, attach(imp, fd));
		ASSERT_EQ(0, arm(self->nth, n));
		ret = ioctl(imp, VDTI_MAP);
		err = errno;
		hit = injected(self->nth);
		if (ret >= 0) {
			ASSERT_EQ(2, ret);
			ASSERT_EQ(0, ioctl(imp, VDTI_UNMAP));
		} else {
			/* a failed map leaves the attachment able to map */
			ASSERT_EQ(2, ioctl(imp, VDTI_MAP)) TH_LOG("map after a failed map: %s",
								  strerror(errno));
			ASSERT_EQ(0, ioctl(imp, VDTI_UNMAP));
		}
		close(imp);
		close(fd);
		if (!hit) {
			ASSERT_LE(0, ret) TH_LOG("n = %u, no fault injected: %s", n, strerror(err));
			break;
		}
		tally(_metadata, &sw, "map", n, ret >= 0, err);
		check_clean(_metadata, self, "map", n);
	}
	finish(_metadata, self, &sw, "map", "importer map", n);
}

TEST_HARNESS_MAIN
