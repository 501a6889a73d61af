// SPDX-License-Identifier: GPL-2.0-only
/*
 * Many operations at once. Where dmabuf_race_test sets one path against one
 * revoke, here VD_STRESS_THREADS threads (default 4) each pick at random,
 * over and over:
 *
 *   export     export 1-3 ranges; close the dma-buf or keep it a while
 *   reset      VFIO_DEVICE_RESET
 *   memory     memory decode off, then on again
 *   import     vd_test_importer attaches (sometimes lazily), maps and
 *              unmaps a dma-buf: a fresh one or one kept from before,
 *              maybe of a device fd or a binding that is gone
 *   reopen     close the VFIO device fd and open it again: a real close
 *              (revoke and detach every dma-buf) and open of the device
 *   unbind     unbind the driver while dma-bufs, one of them mapped, are
 *              open, close the device fd so the unbind can finish, bind
 *              again and reopen
 *
 * The device fd is shared. The ops that use it hold a read lock; reopen and
 * unbind hold the write lock, so no thread uses a device fd being closed,
 * while imports and dma-buf closes, which need no device fd, go on during
 * them. Threads keep up to POOL dma-bufs each across operations.
 *
 * The only errors accepted are the ones a revoke explains: ENODEV from
 * attach or map, ENOENT from an unmap that move_notify did first, and
 * EAGAIN from a reset that found the device locked. The run ends after
 * VD_STRESS_ITERS operations in all (default 10,000) with every kind done
 * at least MIN_EACH times, or after VD_STRESS_SECS seconds (default 300:
 * Debian's kernels take 40-50 s, the debug kernel several times that).
 * Then: the exporter's module count is back to its baseline, no dma-buf of
 * the exporter is left (debugfs bufinfo), no fd leaked, and the device
 * exports and maps.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vd_test.h"

#define BAR_PAGES	((16ULL << 20) / SZ_4K)
#define POOL		4
#define MAX_THREADS	16
#define MIN_EACH	10	/* of every kind, unbind included */

enum op { OP_EXPORT, OP_RESET, OP_MEMORY, OP_IMPORT, OP_REOPEN, OP_UNBIND, NR_OPS };

static const char *const op_name[NR_OPS] = {
	"export", "reset", "memory", "import", "reopen", "unbind",
};

/* per mille; import drops out without the importer */
static const unsigned int op_weight[NR_OPS] = { 300, 150, 200, 300, 45, 5 };

struct shared {
	/* readers use dev.fd; reopen and unbind take it for writing */
	pthread_rwlock_t lock;
	struct vd_dev dev;
	char bdf[32];
	uint32_t bar;
	bool importer;
	long target;
	double deadline;
	atomic_int stop;
	atomic_long total;
	atomic_long done[NR_OPS];
	atomic_long revoked;	/* ENODEV from attach or map */
	atomic_long lazy;	/* imports by a lazy importer */
	atomic_long busy;	/* EAGAIN from reset */
	pthread_mutex_t err_lock;
	char err[256];		/* the first unexpected error */
};

struct worker {
	struct shared *s;
	pthread_t thread;
	int id;
	uint64_t rng;
	int pool[POOL];
	int npool;
};

static uint64_t rnd(struct worker *w)
{
	uint64_t z = (w->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(struct shared *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct shared *s, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->err_lock);
	if (!s->err[0]) {
		va_start(ap, fmt);
		vsnprintf(s->err, sizeof(s->err), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&s->err_lock);
	atomic_store(&s->stop, 1);
}

/*
 * Export 1-3 random ranges of BAR2 on the shared device fd (lock held).
 * One on mainline unless upstream/'s multi-range fix is in: without it two
 * or more fail to map through an IOMMU (see dmabuf_map_test's
 * each_range_is_a_segment).
 */
static int export_locked(struct worker *w)
{
	struct vfio_region_dma_range r[3];
	uint32_t i, nr = vd_env_mainline_bug("multi-range") ? 1 : 1 + rnd(w) % 3;

	for (i = 0; i < nr; i++) {
		uint64_t first = rnd(w) % BAR_PAGES;

		r[i].offset = first * SZ_4K;
		r[i].length = (1 + rnd(w) % (BAR_PAGES - first < 16 ? BAR_PAGES - first : 16)) * SZ_4K;
	}
	return vd_export(w->s->dev.fd, w->s->bar, O_CLOEXEC, 0, r, nr, 0);
}

static int export(struct worker *w)
{
	int fd;

	pthread_rwlock_rdlock(&w->s->lock);
	fd = export_locked(w);
	pthread_rwlock_unlock(&w->s->lock);
	if (fd < 0)
		fail(w->s, "thread %d: export: %s", w->id, vd_strerr(fd));
	return fd;
}

/* Keep @fd in the pool, or close it; now and then drop an older one. */
static void keep_or_close(struct worker *w, int fd)
{
	if (w->npool && rnd(w) % 4 == 0)
		close(w->pool[--w->npool]);
	if (w->npool < POOL && rnd(w) % 2)
		w->pool[w->npool++] = fd;
	else
		close(fd);
}

static void op_export(struct worker *w)
{
	int fd = export(w);

	if (fd >= 0)
		keep_or_close(w, fd);
}

static void op_reset(struct worker *w)
{
	int ret, err;

	pthread_rwlock_rdlock(&w->s->lock);
	ret = ioctl(w->s->dev.fd, VFIO_DEVICE_RESET);
	err = errno;
	pthread_rwlock_unlock(&w->s->lock);
	if (ret && err == EAGAIN)
		atomic_fetch_add(&w->s->busy, 1);
	else if (ret)
		fail(w->s, "thread %d: VFIO_DEVICE_RESET: %s", w->id, strerror(err));
}

static void op_memory(struct worker *w)
{
	int ret;

	pthread_rwlock_rdlock(&w->s->lock);
	ret = vd_set_memory_enable(&w->s->dev, 0);
	if (!ret)
		ret = vd_set_memory_enable(&w->s->dev, 1);
	pthread_rwlock_unlock(&w->s->lock);
	if (ret)
		fail(w->s, "thread %d: memory decode off/on: %s", w->id, vd_strerr(ret));
}

/*
 * Attach the importer to @fd, map, unmap. The dma-buf may be revoked at any
 * point (ENODEV), and a non-lazy importer may have unmapped in move_notify
 * already (ENOENT). 0, or -1 after fail().
 */
static int import(struct worker *w, int fd, bool lazy, const char *what)
{
	int imp, err, ret = 0;

	imp = vd_importer_open();
	if (imp < 0) {
		fail(w->s, "thread %d: open the importer: %s", w->id, vd_strerr(imp));
		return -1;
	}
	if (lazy)
		atomic_fetch_add(&w->s->lazy, 1);
	err = vd_importer_attach(imp, fd, lazy ? VDTI_LAZY : 0);
	if (err) {
		if (err != -ENODEV) {
			fail(w->s, "thread %d: attach to %s dma-buf: %s", w->id, what,
			     vd_strerr(err));
			ret = -1;
		} else {
			atomic_fetch_add(&w->s->revoked, 1);
		}
	} else if ((err = vd_importer_map(imp)) < 0) {
		if (err != -ENODEV) {
			fail(w->s, "thread %d: map %s dma-buf: %s", w->id, what, vd_strerr(err));
			ret = -1;
		} else {
			atomic_fetch_add(&w->s->revoked, 1);
		}
	} else {
		if (rnd(w) % 2)
			usleep(rnd(w) % 200);
		err = vd_importer_unmap(imp);
		if (err && err != -ENOENT) {
			fail(w->s, "thread %d: unmap %s dma-buf: %s", w->id, what,
			     vd_strerr(err));
			ret = -1;
		}
	}
	close(imp);
	return ret;
}

static void op_import(struct worker *w)
{
	bool lazy = rnd(w) % 4 == 0;
	int fd;

	if (w->npool && rnd(w) % 10 < 3) {
		fd = w->pool[rnd(w) % w->npool];
		import(w, fd, lazy, "a kept");
		return;
	}
	fd = export(w);
	if (fd < 0)
		return;
	import(w, fd, lazy, "a fresh");
	keep_or_close(w, fd);
}

static void op_reopen(struct worker *w)
{
	int ret;

	pthread_rwlock_wrlock(&w->s->lock);
	ret = vd_reopen_device(&w->s->dev);
	pthread_rwlock_unlock(&w->s->lock);
	if (ret)
		fail(w->s, "thread %d: reopen the device: %s", w->id, vd_strerr(ret));
}

/*
 * Unbind with dma-bufs open, one of them attached and mapped; the unbind
 * completes once the device fd is closed. Bind again and reopen.
 */
static void op_unbind(struct worker *w)
{
	struct shared *s = w->s;
	struct vd_unbinder u;
	int fd, imp = -1, ret;

	pthread_rwlock_wrlock(&s->lock);
	fd = export_locked(w);
	if (fd < 0) {
		fail(s, "thread %d: export before unbind: %s", w->id, vd_strerr(fd));
		goto out;
	}
	if (s->importer) {
		imp = ret = vd_importer_open();
		/* memory decode may be off for a moment: ENODEV is fine */
		if (imp >= 0)
			ret = vd_importer_attach(imp, fd, 0);
		if (!ret)
			ret = vd_importer_map(imp);
		if (ret < 0 && ret != -ENODEV && ret != -ENOTCONN) {
			fail(s, "thread %d: import before unbind: %s", w->id, vd_strerr(ret));
			goto out;
		}
	}
	if (vd_unbind_start(&u, s->bdf)) {
		fail(s, "thread %d: start unbind", w->id);
		goto out;
	}
	usleep(rnd(w) % 20000);
	vd_close(&s->dev);
	if (!vd_unbind_wait(&u, 30000)) {
		fail(s, "thread %d: unbind still blocked 30 s after the device fd closed",
		     w->id);
		/* the unbinder thread stays blocked: stop here, unlocked */
		goto out;
	}
	if (u.ret) {
		fail(s, "thread %d: unbind: %s", w->id, strerror(-u.ret));
		goto out;
	}
	ret = imp >= 0 ? vd_importer_map(imp) : -ENODEV;
	if (ret != -ENODEV && ret != -ENOTCONN)
		fail(s, "thread %d: map after unbind: %s", w->id, vd_strerr(ret));
	ret = vd_bind(s->bdf, vd_env_driver());
	if (ret) {
		fail(s, "thread %d: bind again: %s", w->id, vd_strerr(ret));
		goto out;
	}
	ret = vd_open_group(&s->dev, s->bdf);
	if (ret) {
		fail(s, "thread %d: open after rebind: %s", w->id, vd_strerr(ret));
		goto out;
	}
	ret = vd_set_memory_enable(&s->dev, 1);
	if (ret)
		fail(s, "thread %d: memory decode on after rebind: %s", w->id, vd_strerr(ret));
out:
	pthread_rwlock_unlock(&s->lock);
	if (imp >= 0)
		close(imp);
	if (fd >= 0)
		keep_or_close(w, fd);
}

static void (*const ops[NR_OPS])(struct worker *w) = {
	op_export, op_reset, op_memory, op_import, op_reopen, op_unbind,
};

static bool enough(struct shared *s)
{
	int i;

	if (atomic_load(&s->total) < s->target)
		return false;
	for (i = 0; i < NR_OPS; i++)
		if ((i != OP_IMPORT || s->importer) && atomic_load(&s->done[i]) < MIN_EACH)
			return false;
	return true;
}

static enum op pick(struct worker *w)
{
	struct shared *s = w->s;
	unsigned int sum = 0, x, i;

	/* the slow kinds catch up once the count is reached */
	if (atomic_load(&s->total) >= s->target)
		for (i = 0; i < NR_OPS; i++)
			if ((i != OP_IMPORT || s->importer) &&
			    atomic_load(&s->done[i]) < MIN_EACH)
				return i;
	for (i = 0; i < NR_OPS; i++)
		sum += i == OP_IMPORT && !s->importer ? 0 : op_weight[i];
	x = rnd(w) % sum;
	for (i = 0; i < NR_OPS; i++) {
		unsigned int wt = i == OP_IMPORT && !s->importer ? 0 : op_weight[i];

		if (x < wt)
			return i;
		x -= wt;
	}
	return OP_EXPORT;
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct shared *s = w->s;

	while (!atomic_load(&s->stop)) {
		enum op op = pick(w);

		ops[op](w);
		atomic_fetch_add(&s->done[op], 1);
		atomic_fetch_add(&s->total, 1);
		if (enough(s) || now() > s->deadline)
			atomic_store(&s->stop, 1);
	}
	while (w->npool)
		close(w->pool[--w->npool]);
	return NULL;
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 0) : def;
}

FIXTURE(stress) {
	struct shared s;
	int refs, fds, bufs;
};

FIXTURE_SETUP(stress)
{
	pthread_rwlockattr_t attr;

	ASSERT_EQ(0, vd_env_bdf(self->s.bdf, sizeof(self->s.bdf)));
	pthread_rwlockattr_init(&attr);
	/* the reopen and unbind writers would starve behind four readers */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	ASSERT_EQ(0, pthread_rwlock_init(&self->s.lock, &attr));
	pthread_mutex_init(&self->s.err_lock, NULL);
	ASSERT_EQ(0, vd_open_group(&self->s.dev, self->s.bdf));
	VD_ASSERT_OK(vd_set_memory_enable(&self->s.dev, 1));
	self->s.bar = vd_test_bar(_metadata, &self->s.dev, NULL);
	self->s.importer = !access("/dev/vd_test_importer", F_OK);
	self->refs = vd_module_refcnt(vd_env_exporter_module());
	ASSERT_LE(0, self->refs);
	self->fds = vd_open_fds();
	self->bufs = vd_dmabuf_count(vd_env_exporter_module());
}

FIXTURE_TEARDOWN(stress)
{
	char drv[64] = "";

	vd_close(&self->s.dev);
	/* leave the device bound as the runner bound it */
	vd_bound_driver(self->s.bdf, drv, sizeof(drv));
	if (strcmp(drv, vd_env_driver()))
		vd_bind(self->s.bdf, vd_env_driver());
}

TEST_F_TIMEOUT(stress, many_ops_at_once, 900)
{
	struct worker w[MAX_THREADS] = { 0 };
	int nthreads = env_long("VD_STRESS_THREADS", 4);
	double secs = env_long("VD_STRESS_SECS", 300), t0, t;
	struct shared *s = &self->s;
	char line[512];
	int i, n, fd, ret;

	ASSERT_LT(0, nthreads);
	ASSERT_GE(MAX_THREADS, nthreads);
	s->target = env_long("VD_STRESS_ITERS", 10000);
	t0 = now();
	s->deadline = t0 + secs;
	for (i = 0; i < nthreads; i++) {
		w[i].s = s;
		w[i].id = i;
		w[i].rng = 0x5eed0000ULL + i;
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL, worker, &w[i]));
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(w[i].thread, NULL);
	t = now() - t0;

	n = snprintf(line, sizeof(line), "%d threads, %ld operations in %.1f s (%.0f/s):",
		     nthreads, atomic_load(&s->total), t, atomic_load(&s->total) / t);
	for (i = 0; i < NR_OPS; i++)
		n += snprintf(line + n, sizeof(line) - n, " %s %ld", op_name[i],
			      atomic_load(&s->done[i]));
	ksft_print_msg("%s\n", line);
	ksft_print_msg("imports: %ld by a lazy importer, %ld refused as revoked (ENODEV); resets: %ld found the device busy (EAGAIN)\n",
		       atomic_load(&s->lazy), atomic_load(&s->revoked), atomic_load(&s->busy));
	ASSERT_EQ(0, s->err[0]) TH_LOG("%s", s->err);
	ASSERT_TRUE(enough(s)) TH_LOG("the %.0f s bound came first", secs);

	/* nothing left behind, and the device still exports and maps */
	ASSERT_EQ(0, vd_set_memory_enable(&s->dev, 1));
	ASSERT_EQ(self->fds, vd_open_fds()) TH_LOG("file descriptors leaked");
	ASSERT_EQ(self->refs, vd_module_refcnt(vd_env_exporter_module()))
		TH_LOG("%s's module count is not back to its baseline", vd_env_exporter_module());
	if (self->bufs >= 0)
		ASSERT_EQ(self->bufs, vd_dmabuf_count(vd_env_exporter_module()))
			TH_LOG("dma-bufs of %s left (debugfs bufinfo)", vd_env_exporter_module());
	fd = VD_ASSERT_OK(vd_export(s->dev.fd, s->bar, O_CLOEXEC, 0, &page0, 1, 0));
	if (s->importer) {
		ret = vd_importer_roundtrip(fd);
		ASSERT_EQ(1, ret) TH_LOG("attach + map + unmap: %s", vd_strerr(ret));
	}
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(self->refs, vd_module_refcnt(vd_env_exporter_module()));
	if (self->bufs >= 0)
		ASSERT_EQ(self->bufs, vd_dmabuf_count(vd_env_exporter_module()));
}

TEST_HARNESS_MAIN
