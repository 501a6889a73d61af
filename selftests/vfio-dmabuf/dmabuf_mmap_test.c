// SPDX-License-Identifier: GPL-2.0-only
/*
 * mmap(2) of a dma-buf: the CPU's view of the exported ranges, laid end to
 * end, for a process that holds nothing of the device but the dma-buf.
 * Ours only: mainline has no dma-buf mmap (mmap_is_ours_alone says what
 * mainline answers).
 *
 * Every revoke zaps every CPU mapping before it returns: a touch while the
 * dma-buf is revoked gets SIGBUS, and after a re-grant the next touch
 * faults the page back in. Closing the device revokes for good.
 *
 * Writes land in ivshmem's BAR2, a file on the host, which checks the
 * bytes after the guest stops (vd_host_expect()). These tests own BAR2
 * [0xa00000, 0xe10000); no other test writes there.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vd_test.h"

#define SZ_1M		0x100000ULL
#define SZ_2M		0x200000ULL
#define MULTI_OFF	0xa00000ULL	/* the multi-range worker's ranges */
#define MISC_OFF	0xa80000ULL	/* the small tests', 64 KiB */
#define STRESS_OFF	0xa90000ULL	/* the stress test's, 64 KiB */
#define TRIG_OFF	0xb00000ULL	/* the revoke triggers', TRIG_LEN each */
#define TRIG_LEN	0x20000ULL
#define HUGE_OFF	0xc00000ULL	/* 2 MiB, 2 MiB aligned in the BAR */

static const struct vfio_region_dma_range misc = { MISC_OFF, 4 * SZ_4K };

/* milliseconds since some fixed point */
static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait up to @ms for *@v to reach @want: 1 when it did. */
static int wait_atleast(_Atomic long *v, long want, int ms)
{
	long end = now_ms() + ms;

	while (atomic_load(v) < want)
		if (now_ms() > end)
			return 0;
		else
			usleep(1000);
	return 1;
}

static unsigned long ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/*
 * A child process that is given only the dma-buf: it closes every fd but
 * 0-2 and @sock, receives the dma-buf over @sock, and checks that the
 * dma-buf came alone. The dma-buf's fd, or -errno.
 */
static int worker_receive(int sock)
{
	int fd, fds;

	if ((sock > 3 && close_range(3, sock - 1, 0)) || close_range(sock + 1, ~0U, 0))
		return -errno;
	fds = vd_open_fds();
	fd = vd_recv_fd(sock);
	if (fd < 0)
		return fd;
	if (vd_open_fds() != fds + 1)
		return -EEXIST;	/* something else came along */
	return fd;
}

/* Fork a worker running @fn on the dma-buf @dmabuf, which only it keeps. */
static pid_t worker_start(struct __test_metadata *_metadata, int dmabuf,
			  int (*fn)(int fd, void *arg), void *arg)
{
	int sv[2];
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fd;

		close(sv[0]);
		fd = worker_receive(sv[1]);
		_exit(fd < 0 ? 100 : fn(fd, arg));
	}
	close(sv[1]);
	VD_ASSERT_OK(vd_send_fd(sv[0], dmabuf));
	close(sv[0]);
	close(dmabuf);
	return pid;
}

/* The worker's exit status: 0 when it did all it had to. */
static int worker_wait(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

/*
 * Every fixture here: ivshmem open, memory decode on, on our driver. The
 * rig's ivshmem only: the host reads its BAR2 back.
 */
#define MMAP_SETUP() do {							\
	VD_NEED_RIG("ivshmem's BAR2, a file the host reads back");		\
	if (vd_env_is_mainline())						\
		SKIP(return, "mainline has no dma-buf mmap");			\
	vd_test_open(_metadata, &self->dev);					\
} while (0)

static int export(struct vd_dev *d, const struct vfio_region_dma_range *r,
		  uint32_t nr, uint32_t oflags)
{
	return vd_export(d->fd, VD_IVSHMEM_BAR, oflags | O_CLOEXEC, 0, r, nr, 0);
}

/* This dma-buf's @key in our debugfs ("vmas", "zaps", "pte", ...). */
static long dbg(struct vd_dev *d, int fd, const char *key)
{
	return vd_dbg_dmabuf(d->bdf, ino_of(fd), key);
}

static int memory_off(struct vd_dev *d)
{
	return vd_set_memory_enable(d, 0);
}

static int memory_on(struct vd_dev *d)
{
	return vd_set_memory_enable(d, 1);
}

static int device_reset(struct vd_dev *d)
{
	return ioctl(d->fd, VFIO_DEVICE_RESET) ? -errno : 0;
}

FIXTURE(mmap) {
	struct vd_dev dev;
};

FIXTURE_SETUP(mmap)
{
	MMAP_SETUP();
}

FIXTURE_TEARDOWN(mmap)
{
	vd_close(&self->dev);
}

/* --- a worker that has only the dma-buf ------------------------------- */

/* Three ranges, given out of BAR order: the dma-buf lays them end to end. */
static const struct vfio_region_dma_range multi[] = {
	{ MULTI_OFF + 0x40000, 3 * SZ_4K },
	{ MULTI_OFF, 2 * SZ_4K },
	{ MULTI_OFF + 0x20000, SZ_4K },
};
#define NR_MULTI	(sizeof(multi) / sizeof(multi[0]))
#define MULTI_SEED	0x6d6d0000

/* Write each range's part of the mapping with a pattern of its own. */
static int write_ranges(int fd, void *arg)
{
	size_t size = 0, off = 0, i;
	unsigned char *map;

	for (i = 0; i < NR_MULTI; i++)
		size += multi[i].length;
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return 10;
	for (i = 0; i < NR_MULTI; i++) {
		unsigned char *buf = malloc(multi[i].length);

		vd_pattern(buf, multi[i].length, MULTI_SEED + i);
		memcpy(map + off, buf, multi[i].length);
		if (memcmp(map + off, buf, multi[i].length))
			return 11;
		off += multi[i].length;
		free(buf);
	}
	return munmap(map, size) ? 12 : 0;
}

TEST_F(mmap, worker_with_only_the_dma_buf_writes_each_range)
{
	int fd = VD_ASSERT_OK(export(&self->dev, multi, NR_MULTI, O_RDWR));
	pid_t pid = worker_start(_metadata, fd, write_ranges, NULL);
	char what[64];
	size_t i;

	ASSERT_EQ(0, worker_wait(pid)) TH_LOG("the worker failed (100+: receiving the fd)");
	for (i = 0; i < NR_MULTI; i++) {
		snprintf(what, sizeof(what), "mmap_worker_range_%zu", i);
		ASSERT_EQ(0, vd_host_expect(what, multi[i].offset, multi[i].length,
					    MULTI_SEED + i));
	}
}

/* --- a worker writing in a loop while the BAR is taken away ------------ */

enum { PH_BEFORE = 1, PH_REVOKED, PH_AFTER, PH_STOP };

/* Shared between the test and its worker (MAP_SHARED | MAP_ANONYMOUS). */
struct loop_log {
	_Atomic int phase;		/* set by the test */
	_Atomic long landed[2];		/* slots written in the first, second half */
	_Atomic long stores_before, stores_after;
	_Atomic long late;		/* stores that went through in PH_REVOKED */
	_Atomic long sigbus;
	_Atomic long other_signal;
	uint32_t seed[2];
	uint64_t slots;			/* 8 bytes each; two halves */
};

static void pace(void)
{
	struct timespec ts = { 0, 20000 };

	nanosleep(&ts, NULL);
}

/*
 * Write the first half, slot by slot with vd_pattern(seed[0]), until the
 * test says PH_AFTER; then the second half with vd_pattern(seed[1]). A store that faults
 * is not retried: the worker waits for the next phase. A half that is full
 * keeps its last slot rewritten with the same value. Every store is
 * counted under the phase read before it: a store that goes through in
 * PH_REVOKED is late, a mapping the revoke left behind.
 */
static int write_loop(int fd, void *arg)
{
	struct loop_log *log = arg;
	uint64_t half = log->slots / 2;
	volatile uint64_t *map;
	uint64_t i = 0, *pat[2];
	int h = 0;

	map = mmap(NULL, log->slots * 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return 10;
	/* what each half's slots get: the bytes the host regenerates */
	for (h = 0; h < 2; h++) {
		pat[h] = malloc(half * 8);
		if (!pat[h])
			return 11;
		vd_pattern(pat[h], half * 8, log->seed[h]);
	}
	h = 0;
	for (;;) {
		int ph = atomic_load(&log->phase), sig;

		if (ph == PH_STOP)
			break;
		if (ph >= PH_AFTER && !h) {
			h = 1;
			i = 0;
		}
		sig = vd_try_write64(&map[h * half + i], pat[h][i]);
		if (!sig) {
			if (ph == PH_REVOKED)
				atomic_fetch_add(&log->late, 1);
			atomic_fetch_add(h ? &log->stores_after : &log->stores_before, 1);
			atomic_store(&log->landed[h], i + 1);
			if (i + 1 < half)
				i++;
		} else {
			atomic_fetch_add(sig == SIGBUS ? &log->sigbus : &log->other_signal, 1);
			/* wait for the test's next step */
			while (atomic_load(&log->phase) <= (ph < PH_REVOKED ? PH_REVOKED : ph))
				usleep(1000);
		}
		pace();
	}
	return 0;
}

static int low_power_entry(struct vd_dev *d)
{
	return vd_feature(d->fd, VFIO_DEVICE_FEATURE_SET |
			  VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY, NULL, 0);
}

static int low_power_exit(struct vd_dev *d)
{
	return vd_feature(d->fd, VFIO_DEVICE_FEATURE_SET |
			  VFIO_DEVICE_FEATURE_LOW_POWER_EXIT, NULL, 0);
}

static int device_close(struct vd_dev *d)
{
	vd_close(d);
	return 0;
}

/* The revoke triggers, one way each of taking the BAR away and giving it back. */
FIXTURE(trigger) {
	struct vd_dev dev;
};

FIXTURE_VARIANT(trigger) {
	const char *name;			/* in the host's checks */
	unsigned int region;			/* which TRIG_LEN of TRIG_OFF */
	int (*revoke)(struct vd_dev *d);	/* NULL: regrant does both */
	int (*regrant)(struct vd_dev *d);	/* NULL: revoked for good */
};

FIXTURE_SETUP(trigger)
{
	MMAP_SETUP();
}

FIXTURE_TEARDOWN(trigger)
{
	vd_close(&self->dev);
}

FIXTURE_VARIANT_ADD(trigger, memory_decode_off) {
	.name = "memory_off", .region = 0, .revoke = memory_off, .regrant = memory_on,
};

FIXTURE_VARIANT_ADD(trigger, low_power) {
	.name = "low_power", .region = 1, .revoke = low_power_entry,
	.regrant = low_power_exit,
};

FIXTURE_VARIANT_ADD(trigger, vfio_device_reset) {
	.name = "reset", .region = 2, .regrant = device_reset,
};

FIXTURE_VARIANT_ADD(trigger, device_close) {
	.name = "close", .region = 3, .revoke = device_close,
};

/*
 * The worker writes in a loop; the test takes the BAR away, then gives it
 * back (or closes the device). No store goes through while the dma-buf is
 * revoked, each one raises SIGBUS; stores land again after the re-grant;
 * the host finds exactly the bytes that went through.
 */
TEST_F_TIMEOUT(trigger, revoke_while_a_worker_writes, 120)
{
	const FIXTURE_VARIANT(trigger) *t = variant;
	struct vfio_region_dma_range r = { TRIG_OFF + variant->region * TRIG_LEN, TRIG_LEN };
	struct loop_log *log;
	long zaps, ptes;
	char what[96];
	uint64_t half;
	pid_t pid;
	int fd;

	log = mmap(NULL, sizeof(*log), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, log);
	log->slots = TRIG_LEN / 8;
	log->seed[0] = 0x7400 + 2 * variant->region + 1;
	log->seed[1] = 0x7400 + 2 * variant->region + 2;
	half = log->slots / 2;
	atomic_store(&log->phase, PH_BEFORE);

	fd = VD_ASSERT_OK(export(&self->dev, &r, 1, O_RDWR));
	/* the worker holds the only reference: ask debugfs by inode */
	{
		unsigned long ino = ino_of(fd);

		pid = worker_start(_metadata, fd, write_loop, log);
		ASSERT_EQ(1, wait_atleast(&log->stores_before, 32, 20000))
			TH_LOG("the worker did not start writing");
		zaps = vd_dbg_dmabuf(self->dev.bdf, ino, "zaps");
		ASSERT_LE(0, zaps);

		if (t->revoke) {
			VD_ASSERT_OK(t->revoke(&self->dev));
			atomic_store(&log->phase, PH_REVOKED);
			ASSERT_EQ(1, wait_atleast(&log->sigbus, 1, 20000))
				TH_LOG("the worker's stores went on after the revoke");
			if (t->regrant) {
				ASSERT_EQ(zaps + 1, vd_dbg_dmabuf(self->dev.bdf, ino, "zaps"));
			}
			usleep(50000);
		}
		ptes = vd_dbg_dmabuf(self->dev.bdf, ino, "pte");
		if (t->regrant) {
			VD_ASSERT_OK(t->regrant(&self->dev));
			atomic_store(&log->phase, PH_AFTER);
			ASSERT_EQ(1, wait_atleast(&log->stores_after, 32, 20000))
				TH_LOG("no store went through after the re-grant");
			ASSERT_EQ(zaps + 1, vd_dbg_dmabuf(self->dev.bdf, ino, "zaps"));
			/* faulted back in */
			ASSERT_LT(ptes, vd_dbg_dmabuf(self->dev.bdf, ino, "pte"));
		} else {
			/* for good: the next touch faults too */
			atomic_store(&log->phase, PH_AFTER);
			ASSERT_EQ(1, wait_atleast(&log->sigbus, 2, 20000))
				TH_LOG("a store went through after the device was closed");
		}
	}
	atomic_store(&log->phase, PH_STOP);
	ASSERT_EQ(0, worker_wait(pid));

	TH_LOG("%s: %ld stores before, %ld after, %ld SIGBUS",
	       variant->name, atomic_load(&log->stores_before),
	       atomic_load(&log->stores_after), atomic_load(&log->sigbus));
	ASSERT_EQ(0, atomic_load(&log->late)) TH_LOG("stores went through while revoked");
	ASSERT_EQ(0, atomic_load(&log->other_signal));
	if (!t->regrant)
		ASSERT_EQ(0, atomic_load(&log->stores_after));

	/* what went through is there; nothing else is */
	for (int h = 0; h < 2; h++) {
		uint64_t n = atomic_load(&log->landed[h]);
		uint64_t base = r.offset + h * half * 8;

		snprintf(what, sizeof(what), "mmap_%s_%s", variant->name,
			 h ? "after_regrant" : "before_revoke");
		if (n)
			ASSERT_EQ(0, vd_host_expect(what, base, n * 8, log->seed[h]));
		snprintf(what, sizeof(what), "mmap_%s_%s_nothing_past", variant->name,
			 h ? "after_regrant" : "before_revoke");
		ASSERT_EQ(0, vd_host_expect(what, base + n * 8, (half - n) * 8, VD_ZEROES));
	}
	munmap(log, sizeof(*log));
}

/* --- bad mmaps: an errno, nothing mapped ------------------------------ */

FIXTURE(bad_mmap) {
	struct vd_dev dev;
};

FIXTURE_VARIANT(bad_mmap) {
	uint32_t oflags;		/* the dma-buf's open flags */
	int prot, flags;
	uint64_t off, len;		/* len 0: the whole dma-buf */
	int err;
};

FIXTURE_SETUP(bad_mmap)
{
	MMAP_SETUP();
}

FIXTURE_TEARDOWN(bad_mmap)
{
	vd_close(&self->dev);
}

#define RW	(PROT_READ | PROT_WRITE)

FIXTURE_VARIANT_ADD(bad_mmap, map_private) {
	.oflags = O_RDWR, .prot = RW, .flags = MAP_PRIVATE, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad_mmap, map_private_read_only) {
	.oflags = O_RDWR, .prot = PROT_READ, .flags = MAP_PRIVATE, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad_mmap, length_past_the_end) {
	.oflags = O_RDWR, .prot = RW, .flags = MAP_SHARED, .len = 5 * SZ_4K, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad_mmap, offset_at_the_end) {
	.oflags = O_RDWR, .prot = RW, .flags = MAP_SHARED, .off = 4 * SZ_4K, .len = SZ_4K,
	.err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad_mmap, offset_not_page_aligned) {
	.oflags = O_RDWR, .prot = RW, .flags = MAP_SHARED, .off = 0x800, .len = SZ_4K,
	.err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad_mmap, writable_on_a_read_only_dma_buf) {
	.oflags = O_RDONLY, .prot = RW, .flags = MAP_SHARED, .err = EACCES,
};

FIXTURE_VARIANT_ADD(bad_mmap, any_on_a_write_only_dma_buf) {
	.oflags = O_WRONLY, .prot = PROT_WRITE, .flags = MAP_SHARED, .err = EACCES,
};

TEST_F(bad_mmap, gets_an_errno_and_maps_nothing)
{
	int fd = VD_ASSERT_OK(export(&self->dev, &misc, 1, variant->oflags));
	int fds = vd_open_fds();
	void *p;

	p = mmap(NULL, variant->len ?: misc.length, variant->prot, variant->flags, fd,
		 variant->off);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(variant->err, errno) TH_LOG("mmap: %s, want %s", strerrorname_np(errno),
					      strerrorname_np(variant->err));
	ASSERT_EQ(0, vd_dbg_dmabuf(self->dev.bdf, ino_of(fd), "vmas"));
	ASSERT_EQ(fds, vd_open_fds());
	close(fd);
}

/* --- what the mm calls do to a mapping --------------------------------- */

/* A read-only dma-buf maps read-only, and cannot be made writable. */
TEST_F(mmap, read_only_dma_buf_maps_read_only)
{
	int rw = VD_ASSERT_OK(export(&self->dev, &misc, 1, O_RDWR));
	int ro = VD_ASSERT_OK(export(&self->dev, &misc, 1, O_RDONLY));
	volatile uint64_t *w, *r;

	w = mmap(NULL, SZ_4K, RW, MAP_SHARED, rw, 0);
	r = mmap(NULL, SZ_4K, PROT_READ, MAP_SHARED, ro, 0);
	ASSERT_NE(MAP_FAILED, w);
	ASSERT_NE(MAP_FAILED, r) TH_LOG("read-only shared mmap: %s", strerror(errno));
	w[1] = 0x726f0001;
	ASSERT_EQ(0x726f0001, r[1]);
	ASSERT_EQ(-1, mprotect((void *)r, SZ_4K, RW));
	ASSERT_EQ(EACCES, errno);
	ASSERT_EQ(SIGSEGV, vd_try_write64(&r[1], 0));
	ASSERT_EQ(0x726f0001, w[1]);
	w[1] = 0;
	munmap((void *)w, SZ_4K);
	munmap((void *)r, SZ_4K);
	close(rw);
	close(ro);
}

/*
 * The mapping cannot grow past what was mapped (VM_DONTEXPAND), nor be
 * moved leaving a copy behind (MREMAP_DONTUNMAP: not for pfnmaps).
 */
TEST_F(mmap, mremap_cannot_grow_or_copy_it)
{
	int fd = VD_ASSERT_OK(export(&self->dev, &misc, 1, O_RDWR));
	void *p = mmap(NULL, SZ_4K, RW, MAP_SHARED, fd, 0);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(MAP_FAILED, mremap(p, SZ_4K, 2 * SZ_4K, MREMAP_MAYMOVE));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(MAP_FAILED, mremap(p, SZ_4K, SZ_4K, MREMAP_MAYMOVE | MREMAP_DONTUNMAP));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(1, dbg(&self->dev, fd, "vmas"));
	munmap(p, SZ_4K);
	ASSERT_EQ(0, dbg(&self->dev, fd, "vmas"));
	close(fd);
}

/* A moved mapping maps the same bytes, and is still zapped by a revoke. */
TEST_F(mmap, mremap_moves_it_and_revoke_still_reaches_it)
{
	int fd = VD_ASSERT_OK(export(&self->dev, &misc, 1, O_RDWR));
	volatile uint64_t *p, *q;
	uint64_t v;
	void *dst;

	p = mmap(NULL, 2 * SZ_4K, RW, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[2] = 0x6d760002;
	/* a free spot to move to */
	dst = mmap(NULL, 2 * SZ_4K, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, dst);
	q = mremap((void *)p, 2 * SZ_4K, 2 * SZ_4K, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_EQ(dst, (void *)q);
	ASSERT_EQ(0x6d760002, q[2]);
	ASSERT_EQ(1, dbg(&self->dev, fd, "vmas"));
	ASSERT_EQ(0, memory_off(&self->dev));
	ASSERT_EQ(SIGBUS, vd_try_read64(&q[2], &v));
	ASSERT_EQ(0, memory_on(&self->dev));
	ASSERT_EQ(0, vd_try_read64(&q[2], &v));
	ASSERT_EQ(0x6d760002, v);
	q[2] = 0;
	munmap((void *)q, 2 * SZ_4K);
	ASSERT_EQ(0, dbg(&self->dev, fd, "vmas"));
	close(fd);
}

/* An unmapped hole splits the mapping in two; both halves still work. */
TEST_F(mmap, partial_munmap_splits_it)
{
	int fd = VD_ASSERT_OK(export(&self->dev, &misc, 1, O_RDWR));
	volatile unsigned char *p = mmap(NULL, 3 * SZ_4K, RW, MAP_SHARED, fd, 0);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap((void *)(p + SZ_4K), SZ_4K));
	ASSERT_EQ(2, dbg(&self->dev, fd, "vmas"));
	p[0] = 1;
	p[2 * SZ_4K] = 2;
	ASSERT_EQ(1, p[0]);
	ASSERT_EQ(2, p[2 * SZ_4K]);
	p[0] = p[2 * SZ_4K] = 0;
	munmap((void *)p, 3 * SZ_4K);
	ASSERT_EQ(0, dbg(&self->dev, fd, "vmas"));
	close(fd);
}

/* A child shares the mapping; a revoke reaches its copy too. */
TEST_F(mmap, fork_child_shares_it_and_is_revoked_too)
{
	int fd = VD_ASSERT_OK(export(&self->dev, &misc, 1, O_RDWR));
	volatile uint64_t *p = mmap(NULL, SZ_4K, RW, MAP_SHARED, fd, 0);
	int go[2], done[2];
	char c;
	pid_t pid;

	ASSERT_NE(MAP_FAILED, p);
	p[3] = 0x666b0003;
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		uint64_t v;

		/* the parent's bytes, through the copied mapping */
		if (vd_try_read64(&p[3], &v) || v != 0x666b0003)
			_exit(1);
		if (write(done[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		/* memory decode is off now */
		_exit(vd_try_read64(&p[3], &v) == SIGBUS ? 0 : 3);
	}
	ASSERT_EQ(1, read(done[0], &c, 1));
	ASSERT_EQ(2, dbg(&self->dev, fd, "vmas"));
	ASSERT_EQ(0, memory_off(&self->dev));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(0, worker_wait(pid));
	ASSERT_EQ(1, dbg(&self->dev, fd, "vmas"));
	ASSERT_EQ(0, memory_on(&self->dev));
	p[3] = 0;
	munmap((void *)p, SZ_4K);
	close(fd);
}

/* MADV_DONTFORK: the child gets no mapping at all. */
TEST_F(mmap, madv_dontfork_keeps_it_from_the_child)
{
	int fd = VD_ASSERT_OK(export(&self->dev, &misc, 1, O_RDWR));
	volatile uint64_t *p = mmap(NULL, SZ_4K, RW, MAP_SHARED, fd, 0);
	pid_t pid;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, madvise((void *)p, SZ_4K, MADV_DONTFORK));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		uint64_t v;

		_exit(vd_try_read64(&p[0], &v) == SIGSEGV ? 0 : 1);
	}
	ASSERT_EQ(0, worker_wait(pid));
	ASSERT_EQ(1, dbg(&self->dev, fd, "vmas"));
	munmap((void *)p, SZ_4K);
	close(fd);
}

/* The mapping keeps the dma-buf: it works after the fd is closed. */
TEST_F(mmap, mapping_outlives_the_fd)
{
	int fd = VD_ASSERT_OK(export(&self->dev, &misc, 1, O_RDWR));
	long before = vd_dbg_exports(self->dev.bdf);
	volatile uint64_t *p = mmap(NULL, SZ_4K, RW, MAP_SHARED, fd, 0);
	uint64_t v;

	ASSERT_NE(MAP_FAILED, p);
	close(fd);
	p[4] = 0x6f750004;
	ASSERT_EQ(0x6f750004, p[4]);
	ASSERT_EQ(before, vd_dbg_exports(self->dev.bdf));
	/* and is revoked like any other */
	ASSERT_EQ(0, memory_off(&self->dev));
	ASSERT_EQ(SIGBUS, vd_try_read64(&p[4], &v));
	ASSERT_EQ(0, memory_on(&self->dev));
	p[4] = 0;
	munmap((void *)p, SZ_4K);
	ASSERT_EQ(before - 1, vd_dbg_exports(self->dev.bdf));
}

/* After the device is closed: revoked for good, and no new mapping. */
TEST_F(mmap, device_close_revokes_for_good)
{
	int fd = VD_ASSERT_OK(export(&self->dev, &misc, 1, O_RDWR));
	volatile uint64_t *p = mmap(NULL, SZ_4K, RW, MAP_SHARED, fd, 0);
	uint64_t v;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, vd_try_read64(&p[0], &v));
	vd_close(&self->dev);
	ASSERT_EQ(SIGBUS, vd_try_read64(&p[0], &v));
	ASSERT_EQ(SIGBUS, vd_try_write64(&p[0], 1));
	ASSERT_EQ(MAP_FAILED, mmap(NULL, SZ_4K, RW, MAP_SHARED, fd, 0));
	ASSERT_EQ(ENODEV, errno);
	munmap((void *)p, SZ_4K);
	close(fd);
}

/* While revoked, mmap itself works: the touch is what faults. */
TEST_F(mmap, mmap_while_revoked_faults_until_regrant)
{
	int fd = VD_ASSERT_OK(export(&self->dev, &misc, 1, O_RDWR));
	volatile uint64_t *p;
	uint64_t v;

	ASSERT_EQ(0, memory_off(&self->dev));
	p = mmap(NULL, SZ_4K, RW, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(SIGBUS, vd_try_read64(&p[0], &v));
	ASSERT_EQ(0, memory_on(&self->dev));
	ASSERT_EQ(0, vd_try_read64(&p[0], &v));
	munmap((void *)p, SZ_4K);
	close(fd);
}

/* --- huge entries ------------------------------------------------------- */

/*
 * Whether this kernel maps a 2 MiB aligned range with one PMD: huge
 * pfnmaps (6.12 on x86-64, with transparent huge pages), and THP not
 * turned off.
 */
static int expect_pmd(void)
{
	char buf[128];

	if (vd_kconfig("ARCH_SUPPORTS_PMD_PFNMAP") != 1 ||
	    vd_kconfig("TRANSPARENT_HUGEPAGE") != 1)
		return 0;
	if (vd_read_file("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf)))
		return 0;
	return strstr(buf, "[always]") != NULL;
}

/* Map @len of @fd at an address aligned to @align, plus @skew. */
static void *map_aligned(int fd, size_t len, size_t align, size_t skew)
{
	char *area = mmap(NULL, len + 2 * align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *at;

	if (area == MAP_FAILED)
		return area;
	at = (char *)(((uintptr_t)area + align - 1) & ~(uintptr_t)(align - 1)) + skew;
	return mmap(at, len, RW, MAP_SHARED | MAP_FIXED, fd, 0);
}

/* Touch every page of the mapping: the number of SIGBUS. */
static int touch_all(volatile unsigned char *p, size_t len)
{
	uint64_t v;
	int bad = 0;

	for (size_t off = 0; off < len; off += SZ_4K)
		bad += !!vd_try_read64((volatile uint64_t *)(p + off), &v);
	return bad;
}

TEST_F(mmap, aligned_2mib_range_faults_in_one_pmd)
{
	const struct vfio_region_dma_range r = { HUGE_OFF, SZ_2M };
	int fd = VD_ASSERT_OK(export(&self->dev, &r, 1, O_RDWR));
	int pmd = expect_pmd();
	volatile unsigned char *p = map_aligned(fd, SZ_2M, SZ_2M, 0);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, touch_all(p, SZ_2M));
	TH_LOG("2 MiB: pte=%ld pmd=%ld (PMD expected: %d)", dbg(&self->dev, fd, "pte"),
	       dbg(&self->dev, fd, "pmd"), pmd);
	ASSERT_EQ(pmd ? 0 : 512, dbg(&self->dev, fd, "pte"));
	ASSERT_EQ(pmd ? 1 : 0, dbg(&self->dev, fd, "pmd"));
	/* the PMD is zapped like a page, and faults back in */
	ASSERT_EQ(0, memory_off(&self->dev));
	ASSERT_EQ(512, touch_all(p, SZ_2M));
	ASSERT_EQ(0, memory_on(&self->dev));
	ASSERT_EQ(0, touch_all(p, SZ_2M));
	ASSERT_EQ(pmd ? 2 : 0, dbg(&self->dev, fd, "pmd"));
	munmap((void *)p, SZ_2M);
	close(fd);
}

/* An address off the 2 MiB grid cannot take a PMD: pages. */
TEST_F(mmap, unaligned_address_falls_back_to_pages)
{
	const struct vfio_region_dma_range r = { HUGE_OFF, SZ_2M };
	int fd = VD_ASSERT_OK(export(&self->dev, &r, 1, O_RDWR));
	volatile unsigned char *p = map_aligned(fd, SZ_2M - SZ_4K, SZ_2M, SZ_4K);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, touch_all(p, SZ_2M - SZ_4K));
	ASSERT_EQ(511, dbg(&self->dev, fd, "pte"));
	ASSERT_EQ(0, dbg(&self->dev, fd, "pmd"));
	munmap((void *)p, SZ_2M - SZ_4K);
	close(fd);
}

/*
 * Two ranges that make 2 MiB of dma-buf, aligned, with a page of the BAR
 * between them that is not exported: no PMD may map it.
 */
TEST_F(mmap, huge_entry_never_spans_two_ranges)
{
	const struct vfio_region_dma_range r[] = {
		{ HUGE_OFF, SZ_1M }, { HUGE_OFF + SZ_1M + SZ_4K, SZ_1M },
	};
	/* the page between them, and the second range's first */
	const struct vfio_region_dma_range gap = { HUGE_OFF + SZ_1M, 2 * SZ_4K };
	int fd = VD_ASSERT_OK(export(&self->dev, r, 2, O_RDWR));
	int gfd = VD_ASSERT_OK(export(&self->dev, &gap, 1, O_RDWR));
	volatile unsigned char *p = map_aligned(fd, SZ_2M, SZ_2M, 0);
	volatile uint64_t *g = mmap(NULL, 2 * SZ_4K, RW, MAP_SHARED, gfd, 0);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_NE(MAP_FAILED, g);
	g[0] = 0x676170;	/* not exported by fd */
	g[512] = 0x7231;	/* fd's second range, at 1 MiB in the dma-buf */
	ASSERT_EQ(0, touch_all(p, SZ_2M));
	ASSERT_EQ(512, dbg(&self->dev, fd, "pte"));
	ASSERT_EQ(0, dbg(&self->dev, fd, "pmd"));
	ASSERT_EQ(0x7231, *(volatile uint64_t *)(p + SZ_1M));
	g[0] = g[512] = 0;
	munmap((void *)g, 2 * SZ_4K);
	munmap((void *)p, SZ_2M);
	close(gfd);
	close(fd);
}

#define SZ_1G		0x40000000ULL

/*
 * The rig's second ivshmem, whose BAR2 is 1 GiB: one PUD maps all of it
 * where the kernel has PUD pfnmaps (6.12), else PTEs.
 */
TEST_F(mmap, aligned_1gib_range_faults_in_one_pud)
{
	const char *bdf = getenv("VD_HUGE_BDF");
	const struct vfio_region_dma_range r = { 0, SZ_1G };
	struct vfio_region_info ri;
	volatile unsigned char *p;
	uint64_t offs[] = { 0, SZ_1G / 2 + SZ_4K, SZ_1G - SZ_4K }, v;
	int pud, fd, i;
	struct vd_dev d;

	ASSERT_NE(NULL, bdf) TH_LOG("the rig binds a 1 GiB ivshmem and sets VD_HUGE_BDF");
	ASSERT_EQ(0, vd_open_group(&d, bdf)) TH_LOG("open %s: %s failed", bdf, d.step);
	VD_ASSERT_OK(vd_set_memory_enable(&d, 1));
	VD_ASSERT_OK(vd_region_info(&d, VD_IVSHMEM_BAR, &ri));
	ASSERT_EQ(SZ_1G, ri.size);
	pud = vd_kconfig("ARCH_SUPPORTS_PUD_PFNMAP") == 1 && expect_pmd();
	fd = VD_ASSERT_OK(export(&d, &r, 1, O_RDWR));
	p = map_aligned(fd, SZ_1G, SZ_1G, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < 3; i++) {
		*(volatile uint64_t *)(p + offs[i]) = 0x707564 + i;
		ASSERT_EQ(0x707564 + i, *(volatile uint64_t *)(p + offs[i]));
	}
	TH_LOG("1 GiB: pte=%ld pmd=%ld pud=%ld (PUD expected: %d)", dbg(&d, fd, "pte"),
	       dbg(&d, fd, "pmd"), dbg(&d, fd, "pud"), pud);
	ASSERT_EQ(pud ? 1 : 0, dbg(&d, fd, "pud"));
	ASSERT_EQ(pud ? 0 : 3, dbg(&d, fd, "pte"));
	/* the bytes are in the BAR: read back through vfio's own region */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(8, pread(d.fd, &v, 8, ri.offset + offs[i]));
		ASSERT_EQ(0x707564 + i, v);
	}
	/* the PUD is zapped like a page, and faults back in */
	ASSERT_EQ(0, memory_off(&d));
	ASSERT_EQ(SIGBUS, vd_try_read64((volatile uint64_t *)p, &v));
	ASSERT_EQ(0, memory_on(&d));
	ASSERT_EQ(0, vd_try_read64((volatile uint64_t *)p, &v));
	ASSERT_EQ(0x707564, v);
	ASSERT_EQ(pud ? 2 : 0, dbg(&d, fd, "pud"));
	munmap((void *)p, SZ_1G);
	close(fd);
	vd_close(&d);
}

/* --- many threads at once ----------------------------------------------- */

struct stress {
	struct vd_dev *d;
	_Atomic int stop;
	_Atomic long ok, sigbus, other, cycles;
};

/* Export, map, touch, and unmap or close first, again and again. */
static void *stress_mapper(void *arg)
{
	const struct vfio_region_dma_range r = { STRESS_OFF, 4 * SZ_4K };
	struct stress *s = arg;
	unsigned int n = 0;

	while (!atomic_load(&s->stop)) {
		int fd = export(s->d, &r, 1, O_RDWR);
		volatile uint64_t *p;
		uint64_t v;
		int sig;

		if (fd < 0) {
			atomic_fetch_add(&s->other, 1);
			continue;
		}
		p = mmap(NULL, 4 * SZ_4K, RW, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			atomic_fetch_add(&s->other, 1);
			close(fd);
			continue;
		}
		/* half the time the fd goes first, and munmap releases it */
		if (n & 1)
			close(fd);
		for (int i = 0; i < 4; i++) {
			sig = vd_try_read64(&p[i * 512], &v);
			atomic_fetch_add(!sig ? &s->ok : sig == SIGBUS ? &s->sigbus : &s->other, 1);
		}
		munmap((void *)p, 4 * SZ_4K);
		if (!(n & 1))
			close(fd);
		n++;
	}
	return NULL;
}

/* Resets and memory decode flips, as fast as they come. */
static void *stress_revoker(void *arg)
{
	struct stress *s = arg;

	while (!atomic_load(&s->stop)) {
		if (device_reset(s->d) || memory_off(s->d) || memory_on(s->d))
			atomic_fetch_add(&s->other, 1);
		atomic_fetch_add(&s->cycles, 1);
	}
	return NULL;
}

TEST_F_TIMEOUT(mmap, four_mappers_against_resets, 120)
{
	struct stress s = { .d = &self->dev };
	pthread_t t[5];
	int i;

	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, stress_mapper, &s));
	ASSERT_EQ(0, pthread_create(&t[4], NULL, stress_revoker, &s));
	sleep(5);
	atomic_store(&s.stop, 1);
	for (i = 0; i < 5; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%ld touches went through, %ld got SIGBUS, over %ld reset cycles",
	       atomic_load(&s.ok), atomic_load(&s.sigbus), atomic_load(&s.cycles));
	ASSERT_EQ(0, atomic_load(&s.other));
	ASSERT_LT(0, atomic_load(&s.ok));
	ASSERT_LT(0, atomic_load(&s.cycles));
	ASSERT_EQ(0, vd_dbg_exports(self->dev.bdf));
}

/* --- mainline ------------------------------------------------------------- */

/* Mainline (7.2) has no dma-buf mmap: its dma-buf core says EINVAL. */
TEST(mmap_is_ours_alone)
{
	struct vd_dev d;
	void *p;
	int fd;

	VD_NEED_RIG("ivshmem's BAR2");
	vd_test_open(_metadata, &d);
	fd = VD_ASSERT_OK(vd_export(d.fd, VD_IVSHMEM_BAR, O_RDWR | O_CLOEXEC, 0, &misc, 1, 0));
	p = mmap(NULL, SZ_4K, RW, MAP_SHARED, fd, 0);
	if (vd_env_is_mainline()) {
		ASSERT_EQ(MAP_FAILED, p);
		ASSERT_EQ(EINVAL, errno);
	} else {
		ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
		munmap(p, SZ_4K);
	}
	close(fd);
	vd_close(&d);
}

TEST_HARNESS_MAIN
