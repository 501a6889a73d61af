/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the vfio-dmabuf selftests add to libvfio-dmabuf (<vfio-dmabuf/vd.h>):
 * asserting wrappers in the style of the VFIO selftests' VFIO_ASSERT_*, the
 * byte patterns the host verifies in the ivshmem backing file, the rows of
 * the generated docs tables, and the tools of the hostile tests (an unbind
 * on a thread, a page whose first touch stalls).
 *
 * Include it after kselftest_harness.h. Environment (set by the guest
 * runner; see vd.h's vd_env_*): VD_BDF, VD_DRIVER, and VD_OUT, where
 * results for the host go.
 */
#ifndef VD_TEST_H
#define VD_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <vfio-dmabuf/vd.h>

#define SZ_4K	0x1000ULL

/* The first page of a BAR, the range most tests export. */
static const struct vfio_region_dma_range page0 = { .offset = 0, .length = SZ_4K };

/* "ENODEV (No such device)" for a library call's -errno; "ok" for >= 0. */
const char *vd_strerr(long ret);

/* Seed 0: bytes never written, zeroes in a fresh ivshmem backing file. */
#define VD_ZEROES	0
/* Deterministic byte pattern; the host regenerates it from the seed. */
void vd_pattern(void *buf, size_t len, uint32_t seed);
/*
 * Ask the host to check, after the guest stops, that the ivshmem backing file
 * holds vd_pattern(len, seed) at @offset of BAR2. 0 or -errno.
 */
int vd_host_expect(const char *what, uint64_t offset, uint64_t len, uint32_t seed);

/*
 * Record the outcome of a bad-input export for the errno table the host
 * builds from every kernel: @ret is vd_export()'s result (fd or -errno).
 */
void vd_errno_row(const char *input, int ret);
/* The same table, for an operation that returns 0 ("ok") or -errno. */
void vd_op_row(const char *input, int ret);
/*
 * Whether the running kernel has CONFIG_@sym (y or m): 1, 0, or -ENOENT
 * when its config is not readable ($VD_KCONFIG, which the rig sets, else
 * /boot/config-RELEASE).
 */
int vd_kconfig(const char *sym);
/*
 * kmemleak (the debug kernels): forget the leaks reported so far, so that
 * vd_kmemleak_count() sees only what leaks after. -ENOENT without it.
 */
int vd_kmemleak_clear(void);
/*
 * Scan twice, objects having aged past kmemleak's minimum, and count the
 * new leaks whose report mentions @match (a function of the backtrace).
 * -errno without kmemleak.
 */
int vd_kmemleak_count(const char *match);
/* Record what a revoke trigger did, for the trigger table in docs/. */
void vd_trigger_row(const char *trigger, const char *outcome);

/* An unbind running on a thread of its own, for tests of what it waits for. */
struct vd_unbinder {
	char bdf[VD_BDF_LEN];
	pthread_t thread;
	int ret;		/* vd_unbind()'s result, once done */
	atomic_int done;
};

int vd_unbind_start(struct vd_unbinder *u, const char *bdf);
/* Wait up to @ms for it: 1 when it finished (and is joined), else 0. */
int vd_unbind_wait(struct vd_unbinder *u, int ms);

/*
 * A page whose first touch stalls until the test lets it go: the last page
 * of an anonymous mapping of @pages pages, registered with userfaultfd.
 * Touched from the kernel (copy_to_user, copy_from_user, get_user), it holds
 * that kernel path at the touch: the tests use it to stretch the windows
 * that races need.
 */
struct vd_stall {
	int uffd;
	char *map;		/* @pages pages; the others are ordinary */
	char *page;		/* the stalling page, the last one */
	size_t pages;
};

int vd_stall_init(struct vd_stall *s, size_t pages);
/* Wait up to @ms for a touch of the page: 1 when one is stalled, else 0. */
int vd_stall_wait(struct vd_stall *s, int ms);
/* Fill the page with @content (a page, or NULL for zeroes) and let go. */
int vd_stall_release(struct vd_stall *s, const void *content);
void vd_stall_fini(struct vd_stall *s);

/*
 * A touch of memory that may fault: store @val at @p, or load *@p into
 * *@val. 0 when it went through; SIGBUS or SIGSEGV when the touch raised
 * it (caught, on this thread only: the handler is per process, the jump
 * back per thread).
 */
int vd_try_write64(volatile uint64_t *p, uint64_t val);
int vd_try_read64(volatile uint64_t *p, uint64_t *val);

#ifdef __KSELFTEST_HARNESS_H	/* the test programs, not vd_test.c */
/*
 * Assert that @expr, a library call (>= 0, or -errno), succeeded; print
 * the expression and the errno if not. Evaluates to its value.
 */
#define VD_ASSERT_OK(expr) ({							\
	long __vr = (expr);							\
	ASSERT_LE(0, __vr) TH_LOG("%s: %s", #expr, vd_strerr(__vr));		\
	__vr;									\
})

/* Assert that @expr failed with -@err. */
#define VD_ASSERT_ERR(err, expr) do {						\
	long __vr = (expr);							\
	ASSERT_EQ(-(long)(err), __vr) TH_LOG("%s: %s, want %s", #expr,		\
					    vd_strerr(__vr), strerrorname_np(err)); \
} while (0)

/*
 * The device under test, open through its group with memory decode on: a
 * fixture's setup in one line. Skips when the device is not bound to the
 * driver under test.
 */
static inline void vd_test_open(struct __test_metadata *_metadata, struct vd_dev *d)
{
	char bdf[VD_BDF_LEN];

	VD_ASSERT_OK(vd_env_bdf(bdf, sizeof(bdf)));
	ASSERT_EQ(0, vd_open_group(d, bdf))
		TH_LOG("open %s: %s failed", bdf, d->step);
	VD_ASSERT_OK(vd_set_memory_enable(d, 1));
}

/* The BAR the tests export (vd_env_bar()): its index, its size in *@size. */
static inline uint32_t vd_test_bar(struct __test_metadata *_metadata, struct vd_dev *d,
				   uint64_t *size)
{
	struct vfio_region_info ri;
	int bar;

	bar = vd_env_bar(d, &ri);
	ASSERT_LE(0, bar) TH_LOG("%s has no memory BAR to export (set VD_BAR): %s",
				 d->bdf, vd_strerr(bar));
	if (size)
		*size = ri.size;
	return bar;
}

/* Skip, on a real host, a test that needs one of the rig's devices. */
#define VD_NEED_RIG(what) do {							\
	if (vd_env_real_host())							\
		SKIP(return, "needs the rig's %s: not run on a real host", what);	\
} while (0)

/*
 * Skip without the test importer: in the rig, a kernel it does not build
 * for; on a real host, no spare device was named for it to bind.
 */
#define VD_NEED_IMPORTER() do {							\
	if (access(VD_IMPORTER_DEV, F_OK))					\
		SKIP(return, "%s", vd_env_real_host() ?				\
		     "no vd_test_importer: name a spare device it may bind "	\
		     "(make check-host IMPORTER=BDF2)" :				\
		     "vd_test_importer is not built for this kernel");		\
} while (0)

/*
 * Skip, on a real host, a test of something the named device lacks (@have
 * false); the rig's devices have it all, so there the test goes on and
 * fails if it is missing.
 */
#define VD_NEED_DEVICE(have, what) do {						\
	if (vd_env_real_host() && !(have))					\
		SKIP(return, "the device has no %s", what);			\
} while (0)

/*
 * The checks each edu-p2p import gets, whatever it imported (a BAR or
 * system memory): the CPU writes a pattern at @cpu, which is @off into the
 * imported window, and edu's DMA reads the same bytes back; a transfer that
 * ends past the window's @len is refused.
 */
static inline void vd_test_edu_reads_back(struct __test_metadata *_metadata, int edu,
					  void *cpu, uint64_t off, uint32_t seed)
{
	unsigned char want[4096], got[4096];

	vd_pattern(want, sizeof(want), seed);
	memcpy(cpu, want, sizeof(want));
	memset(got, 0, sizeof(got));
	VD_ASSERT_OK(vd_edu_xfer(edu, EDU_P2P_READ, off, got, sizeof(got)));
	ASSERT_EQ(0, memcmp(want, got, sizeof(got)));
}

static inline void vd_test_edu_refuses_past(struct __test_metadata *_metadata, int edu,
					    uint64_t len)
{
	unsigned char buf[16] = { 0 };

	VD_ASSERT_ERR(EINVAL, vd_edu_xfer(edu, EDU_P2P_WRITE, len - 8, buf, sizeof(buf)));
}
#endif

#endif /* VD_TEST_H */
