// SPDX-License-Identifier: GPL-2.0-only
/*
 * uAPI fuzz of VFIO_DEVICE_FEATURE_DMA_BUF: a seeded generator of malformed
 * VFIO_DEVICE_FEATURE requests against the device fd. Each request starts
 * as a valid export and gets one to four fields broken: argsz (short, long,
 * huge), the feature flags (GET/SET/PROBE combinations, unknown bits, other
 * feature indices), the payload's flags, region_index (invalid, empty,
 * upper half of a 64-bit BAR, ROM, config, VGA, pci-testdev's I/O port
 * BAR), open_flags, nr_ranges (0, huge, out of step with argsz) and the
 * ranges (unaligned, empty, overflowing, past the BAR, random).
 *
 * Every answer must be a dma-buf fd, exactly when the request is valid
 * (then its size is checked and it is closed), 0 for a PROBE, or an errno
 * of docs/errno-table.md. That set is hard-coded here from the doc:
 *   ours:      EINVAL, ENODEV, EOVERFLOW
 *   mainline:  the same plus ENOMEM (nr_ranges = 1 << 31); and mainline
 *              exports where ours refuses unknown open_flags and an argsz
 *              short of nr_ranges (the doc's three "differs" rows).
 * Three answers come from outside that table, each only where it applies:
 *   - a feature index other than DMA_BUF (never the low-power ones, which
 *     change the device's power state) is vfio's, not the exporter's:
 *     EINVAL or ENOTTY;
 *   - an argsz larger than the buffer the fuzzer really has (FZ_BACKED
 *     bytes, then an unmapped page) is a caller's lie: the kernel may then
 *     also answer EFAULT, or ENOMEM for the copy it tried to allocate;
 *   - ranges that take more than 4 MiB to copy in (over 262,144 of them)
 *     are refused with ENOMEM by ours too, where argsz admits them: both
 *     copy them with kmalloc (the table's 1 << 31 row is EINVAL on ours
 *     only because argsz cannot admit that many).
 * A kernel WARN (taint flag W appearing) during a request fails it too, so
 * the failing request is named even where the console would only say that
 * something warned. A request that asks the kernel for more than BIG_COPY
 * bytes to copy its ranges in is named before it is made, and this process
 * offers itself to the OOM killer first: should the kernel run out of
 * memory, the last such line names the culprit, and the runner's shell and
 * the tests after this one live on. (Both happened before the copy became
 * a kmalloc: a WARN in kvmalloc for sizes above INT_MAX, and the OOM killer
 * for vmalloc'ed copies of 1-2 GiB.)
 *
 * Reproduce: every failure prints the seed and the request's number;
 * VD_FUZZ_SEED=<seed> VD_FUZZ_ITER=<n> replays that request alone. A
 * request depends only on (seed, number), so a replay needs no history.
 * VD_FUZZ_COUNT (default 100000) and VD_FUZZ_SECS (default 120) bound a run.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vd_test.h"

#define FEAT_HDR	8	/* struct vfio_device_feature: argsz, flags */
#define DB_HDR		16	/* struct vfio_device_feature_dma_buf, no ranges */
#define RANGE_SZ	16	/* struct vfio_region_dma_range */
/* Ranges the generator writes at most; nr_ranges may claim many more. */
#define FZ_MAX_WRITTEN	1024
/* The request buffer: this many bytes of memory, then an unmapped page. */
#define FZ_BACKED	(8ULL << 20)
/* Mainline copies the ranges with kmalloc: nothing above 4 MiB. */
#define KMALLOC_MAX	(4ULL << 20)
/*
 * open(2) flags ours accepts for the new fd (VDB_OPEN_FLAGS). O_LARGEFILE is
 * the kernel's: glibc defines it as 0 on 64-bit, where the kernel reports it
 * in F_GETFL.
 */
#define KERNEL_O_LARGEFILE	0100000
#define OURS_OPEN_FLAGS	(O_CLOEXEC | O_ACCMODE | O_NONBLOCK | KERNEL_O_LARGEFILE)
#define KNOWN_FLAGS	(VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_GET | \
			 VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PROBE)
#define TAINT_WARN	(1UL << 9)
#define NR_REGIONS	9	/* BAR0-5, ROM, config, VGA */
#define MAX_REPORTS	5	/* failures printed in full */
/* Requests that ask the kernel to copy more than this are named first. */
#define BIG_COPY	(512ULL << 20)

/* splitmix64: seeds each request's stream from (seed, request number) */
static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct rng {
	uint64_t s;
};

static uint64_t rnd64(struct rng *r)
{
	return splitmix64(&r->s);
}

static uint32_t rnd32(struct rng *r)
{
	return rnd64(r) >> 32;
}

/* uniform in [0, n), n > 0 */
static uint64_t below(struct rng *r, uint64_t n)
{
	return rnd64(r) % n;
}

/* true with probability pct % */
static bool chance(struct rng *r, unsigned int pct)
{
	return below(r, 100) < pct;
}

struct fz_dev {
	struct vd_dev dev;
	bool open;
	struct vfio_region_info ri[NR_REGIONS];
	int base_region;	/* an exportable BAR, -1 if none */
};

struct req {
	int dev;			/* index into fuzz->d */
	uint32_t argsz, flags;
	struct vfio_device_feature_dma_buf hdr;
	uint32_t written;		/* ranges written after the header */
	struct vfio_region_dma_range r[FZ_MAX_WRITTEN];
};

enum want {
	WANT_FD,	/* valid: a dma-buf fd */
	WANT_PROBE,	/* PROBE of DMA_BUF: 0 */
	WANT_ERR,	/* invalid DMA_BUF request: an errno of the table */
	WANT_OTHER,	/* another feature: vfio's EINVAL or ENOTTY */
};

struct stats {
	unsigned long requests, fds, probes, other, errs[134];
	double secs;
};

/* Regions a request may name instead of the valid one. */
static uint32_t pick_region(struct rng *r)
{
	static const uint32_t list[] = {
		VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_BAR1_REGION_INDEX,
		VFIO_PCI_BAR2_REGION_INDEX, VFIO_PCI_BAR3_REGION_INDEX,
		VFIO_PCI_BAR4_REGION_INDEX, VFIO_PCI_BAR5_REGION_INDEX,
		VFIO_PCI_ROM_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX,
		VFIO_PCI_VGA_REGION_INDEX, 9, 0x7fffffff, 0x80000000, 0xffffffff,
	};

	if (chance(r, 15))
		return rnd32(r);
	return list[below(r, sizeof(list) / sizeof(list[0]))];
}

/* Feature indices other than DMA_BUF, never the low-power ones (3, 4, 5). */
static uint32_t pick_other_feature(struct rng *r)
{
	static const uint32_t list[] = { 0, 1, 2, 6, 7, 8, 9, 10, 12, 13, 0xffff };
	uint32_t f;

	if (chance(r, 70))
		return list[below(r, sizeof(list) / sizeof(list[0]))];
	do
		f = below(r, 0x10000);
	while (f == VFIO_DEVICE_FEATURE_DMA_BUF || (f >= 3 && f <= 5));
	return f;
}

static uint32_t pick_open_flags(struct rng *r)
{
	static const uint32_t list[] = {
		O_RDONLY, O_WRONLY, O_RDWR, O_ACCMODE, O_NONBLOCK | O_CLOEXEC,
		O_APPEND | O_CLOEXEC, O_TRUNC, O_CREAT | O_EXCL, O_NOCTTY,
		O_DSYNC, O_DIRECT, KERNEL_O_LARGEFILE, O_NOFOLLOW, O_NOATIME, O_SYNC,
		O_DIRECTORY | O_CLOEXEC,
	};

	if (chance(r, 20))
		return 1U << below(r, 32);
	if (chance(r, 15))
		return rnd32(r);
	return list[below(r, sizeof(list) / sizeof(list[0]))];
}

static uint32_t pick_nr(struct rng *r, uint32_t written)
{
	static const uint32_t edges[] = {
		1U << 16, 1U << 20, 1U << 24, 1U << 28, 1U << 31, 0x7fffffff,
		0xfffffffe, 0xffffffff,
	};

	switch (below(r, 8)) {
	case 0:
		return 0;
	case 1:
	case 2:
		return written + 1 + below(r, 8);
	case 3:
		return written > 1 ? 1 + below(r, written - 1) : 2;
	case 4:
		return 1 + below(r, 4096);
	case 5:
		return 4096 + below(r, (1 << 20) - 4096);
	case 6:
		return edges[below(r, sizeof(edges) / sizeof(edges[0]))];
	default:
		return rnd32(r);
	}
}

static uint32_t pick_argsz(struct rng *r, uint32_t exact, uint32_t nr)
{
	switch (below(r, 10)) {
	case 0:
		return below(r, FEAT_HDR);			/* < vfio's header */
	case 1:
		return FEAT_HDR + below(r, DB_HDR);		/* < the payload's */
	case 2:
		return exact - 1 - below(r, RANGE_SZ - 1);	/* short by bytes */
	case 3:
		return exact - RANGE_SZ * (1 + below(r, nr ? nr : 1)); /* by ranges */
	case 4:
		return exact + 1 + below(r, 64);		/* long */
	case 5:
		return below(r, FZ_BACKED);
	case 6:
	case 7:
		return rnd32(r);
	case 8:
		return 0x80000000U + below(r, 64);
	default:
		return 0xffffffff - below(r, 64);
	}
}

/* A valid range of a BAR of @size bytes. */
static void valid_range(struct rng *r, uint64_t size, struct vfio_region_dma_range *d)
{
	uint64_t pages = size / SZ_4K, first, n;

	first = below(r, pages);
	n = 1 + below(r, chance(r, 80) ? (pages - first < 16 ? pages - first : 16)
					: pages - first);
	d->offset = first * SZ_4K;
	d->length = n * SZ_4K;
}

static void break_range(struct rng *r, struct req *q, uint64_t bar)
{
	struct vfio_region_dma_range *d = &q->r[below(r, q->written)];

	switch (below(r, 10)) {
	case 0:
		d->offset |= 1 + below(r, SZ_4K - 1);		/* unaligned */
		break;
	case 1:
		d->length = 0;
		break;
	case 2:
		d->length |= 1 + below(r, SZ_4K - 1);
		break;
	case 3:		/* offset + length wraps */
		d->offset = -(below(r, 16) + 1) * SZ_4K;
		d->length = (below(r, 32) + 1) * SZ_4K;
		break;
	case 4:		/* ends past the BAR */
		d->offset = bar - SZ_4K * below(r, 4);
		d->length = SZ_4K * (below(r, 8) + 5);
		break;
	case 5:
		d->offset = bar;
		break;
	case 6:
		d->length = (rnd64(r) & ~(SZ_4K - 1)) ?: SZ_4K << 40;
		break;
	case 7:
		d->offset = rnd64(r) & ~(SZ_4K - 1);
		break;
	case 8:
		d->offset = rnd64(r);
		d->length = rnd64(r);
		break;
	default:	/* a copy of another range: overlaps are valid */
		*d = q->r[below(r, q->written)];
		break;
	}
}

/* Request number @iter of @seed: a valid export, then 0-4 fields broken. */
static void generate(struct rng *r, struct fz_dev *d, int nr_dev, struct req *q)
{
	struct fz_dev *fd;
	uint64_t bar;
	unsigned int i, breaks;
	uint32_t exact;

	memset(q, 0, offsetof(struct req, r));
	q->dev = nr_dev > 1 && chance(r, 10) ? 1 : 0;
	fd = &d[q->dev];
	q->hdr.region_index = fd->base_region >= 0 ? fd->base_region : pick_region(r);
	bar = fd->base_region >= 0 ? fd->ri[fd->base_region].size : 16ULL << 20;
	q->written = chance(r, 55) ? 1 : chance(r, 75) ? 2 + below(r, 15)
			: 17 + below(r, FZ_MAX_WRITTEN - 16);
	for (i = 0; i < q->written; i++)
		valid_range(r, bar, &q->r[i]);
	q->hdr.nr_ranges = q->written;
	q->hdr.open_flags = (chance(r, 50) ? O_CLOEXEC : 0) |
			    (chance(r, 30) ? O_NONBLOCK : 0) | below(r, 3);
	q->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;

	/* one request in eight stays valid: exports are part of the test */
	breaks = chance(r, 12) ? 0 : 1 + below(r, 4);
	for (i = 0; i < breaks; i++) {
		switch (below(r, 9)) {
		case 0:
			q->hdr.region_index = pick_region(r);
			break;
		case 1:
			q->hdr.open_flags = pick_open_flags(r);
			break;
		case 2:
			q->hdr.flags = chance(r, 50) ? 1U << below(r, 32) : rnd32(r) | 1;
			break;
		case 3:
		case 4:
			q->hdr.nr_ranges = pick_nr(r, q->written);
			break;
		case 5:		/* GET/SET/PROBE combination, unknown bits */
			q->flags &= VFIO_DEVICE_FEATURE_MASK;
			q->flags |= below(r, 8) << 16;
			if (chance(r, 30))
				q->flags |= 1U << (19 + below(r, 13));
			break;
		case 6:
			q->flags = (q->flags & ~VFIO_DEVICE_FEATURE_MASK) |
				   pick_other_feature(r);
			break;
		default:
			break_range(r, q, bar);
			break;
		}
	}
	/* argsz last: it follows nr_ranges unless broken on its own */
	exact = FEAT_HDR + DB_HDR + RANGE_SZ * q->written;
	if (q->hdr.nr_ranges <= FZ_MAX_WRITTEN)
		exact = FEAT_HDR + DB_HDR + RANGE_SZ * q->hdr.nr_ranges;
	q->argsz = breaks && chance(r, 30) ? pick_argsz(r, exact, q->hdr.nr_ranges)
					   : exact;
}

/* The range the kernel reads at @i: what was written, zeroes after. */
static struct vfio_region_dma_range range_at(const struct req *q, uint32_t i)
{
	struct vfio_region_dma_range z = { 0 };

	return i < q->written ? q->r[i] : z;
}

/*
 * What the answer must be, whatever order the driver checks things in: a
 * request is valid exactly when nothing in it is wrong. For a valid one,
 * @size is the dma-buf's size. @lie says whether argsz claims more than
 * the fuzzer's buffer holds and the kernel may have read past it.
 */
static enum want classify(const struct fz_dev *d, const struct req *q,
			  uint64_t *size, bool *lie)
{
	uint32_t feat = q->flags & VFIO_DEVICE_FEATURE_MASK;
	bool get = q->flags & VFIO_DEVICE_FEATURE_GET;
	bool set = q->flags & VFIO_DEVICE_FEATURE_SET;
	bool probe = q->flags & VFIO_DEVICE_FEATURE_PROBE;
	uint64_t nr = q->hdr.nr_ranges, reads, bar;
	const struct vfio_region_info *ri;
	uint32_t i;

	*size = 0;
	/* ours reads at most argsz, mainline nr_ranges whatever argsz says */
	reads = FEAT_HDR + DB_HDR + RANGE_SZ * nr;
	*lie = q->argsz > FZ_BACKED && reads > FZ_BACKED;
	if (q->argsz < FEAT_HDR || q->flags & ~KNOWN_FLAGS)
		return WANT_ERR;
	if (!probe && get && set)
		return WANT_ERR;
	if (feat != VFIO_DEVICE_FEATURE_DMA_BUF)
		return WANT_OTHER;
	if (set)
		return WANT_ERR;
	if (probe)
		return WANT_PROBE;
	if (!get || q->argsz < FEAT_HDR + DB_HDR || !nr || q->hdr.flags)
		return WANT_ERR;
	if (!vd_env_is_mainline()) {
		if (q->hdr.open_flags & ~OURS_OPEN_FLAGS)
			return WANT_ERR;
		if ((q->argsz - FEAT_HDR - DB_HDR) / RANGE_SZ < nr)
			return WANT_ERR;
	} else if (RANGE_SZ * nr > KMALLOC_MAX) {
		return WANT_ERR;
	}
	if (q->hdr.region_index > VFIO_PCI_BAR5_REGION_INDEX)
		return WANT_ERR;
	ri = &d[q->dev].ri[q->hdr.region_index];
	if (!ri->size || !(ri->flags & VFIO_REGION_INFO_FLAG_MMAP))
		return WANT_ERR;
	bar = ri->size;
	/* past the written ranges the buffer is zero: length 0, invalid */
	for (i = 0; i < nr && i <= q->written; i++) {
		struct vfio_region_dma_range x = range_at(q, i);

		if (!x.length || x.offset % SZ_4K || x.length % SZ_4K ||
		    x.offset + x.length < x.offset || x.offset + x.length > bar)
			return WANT_ERR;
		*size += x.length;
	}
	return WANT_FD;
}

/*
 * Bytes the kernel is asked to allocate to copy the ranges in, when the
 * checks before that copy pass: nr_ranges * 16, on ours only where argsz
 * admits them; mainline does not ask kmalloc for more than 4 MiB.
 */
static uint64_t copy_bytes(const struct fz_dev *d, const struct req *q)
{
	uint64_t n = (uint64_t)RANGE_SZ * q->hdr.nr_ranges;
	const struct vfio_region_info *ri;

	if (q->flags != (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF) ||
	    q->argsz < FEAT_HDR + DB_HDR || !n || q->hdr.flags ||
	    q->hdr.region_index > VFIO_PCI_BAR5_REGION_INDEX)
		return 0;
	ri = &d[q->dev].ri[q->hdr.region_index];
	if (!ri->size || !(ri->flags & VFIO_REGION_INFO_FLAG_MMAP))
		return 0;
	if (vd_env_is_mainline())
		return n <= KMALLOC_MAX ? n : 0;
	if (q->hdr.open_flags & ~OURS_OPEN_FLAGS || q->argsz - FEAT_HDR - DB_HDR < n)
		return 0;
	return n;
}

static bool errno_allowed(enum want w, int err, bool lie, uint64_t copy)
{
	if (w == WANT_OTHER)
		return err == EINVAL || err == ENOTTY;
	if (err == EINVAL || err == ENODEV || err == EOVERFLOW)
		return true;
	if (err == ENOMEM && (vd_env_is_mainline() || copy > KMALLOC_MAX))
		return true;
	return lie && (err == EFAULT || err == ENOMEM);
}

static const char *want_name(enum want w)
{
	return w == WANT_FD ? "a dma-buf fd" : w == WANT_PROBE ? "0 (PROBE)" :
	       w == WANT_ERR ? "an errno of docs/errno-table.md" :
			       "EINVAL or ENOTTY (another feature)";
}

static void print_req(const struct req *q, const char *bdf)
{
	uint32_t i;

	ksft_print_msg("  device %s argsz 0x%x flags 0x%x (feature %u%s%s%s)\n", bdf,
		       q->argsz, q->flags, q->flags & VFIO_DEVICE_FEATURE_MASK,
		       q->flags & VFIO_DEVICE_FEATURE_GET ? " GET" : "",
		       q->flags & VFIO_DEVICE_FEATURE_SET ? " SET" : "",
		       q->flags & VFIO_DEVICE_FEATURE_PROBE ? " PROBE" : "");
	ksft_print_msg("  dma_buf flags 0x%x region_index 0x%x open_flags 0%o nr_ranges %u (%u written)\n",
		       q->hdr.flags, q->hdr.region_index, q->hdr.open_flags,
		       q->hdr.nr_ranges, q->written);
	for (i = 0; i < q->written && i < 4; i++)
		ksft_print_msg("  range[%u] offset 0x%llx length 0x%llx\n", i,
			       (unsigned long long)q->r[i].offset,
			       (unsigned long long)q->r[i].length);
}

static unsigned long taint(int fd)
{
	char buf[32] = "";

	if (fd < 0 || pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		return 0;
	return strtoul(buf, NULL, 10);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

FIXTURE(fuzz) {
	struct fz_dev d[2];
	int nr_dev;
	int refs, fds, bufs;
	unsigned char *buf;
};

static void dev_info(struct __test_metadata *_metadata, struct fz_dev *d)
{
	uint32_t i;

	d->base_region = -1;
	for (i = 0; i < NR_REGIONS; i++) {
		if (vd_region_info(&d->dev, i, &d->ri[i]))
			memset(&d->ri[i], 0, sizeof(d->ri[i]));
		if (d->base_region < 0 && i <= VFIO_PCI_BAR5_REGION_INDEX &&
		    d->ri[i].flags & VFIO_REGION_INFO_FLAG_MMAP &&
		    d->ri[i].size >= SZ_4K)
			d->base_region = i;
	}
}

FIXTURE_SETUP(fuzz)
{
	const char *io = getenv("VD_IO_BDF");
	char bdf[32];

	ASSERT_EQ(0, vd_env_bdf(bdf, sizeof(bdf)));
	ASSERT_EQ(0, vd_open_group(&self->d[0].dev, bdf))
		TH_LOG("open %s: %s failed", bdf, self->d[0].dev.step);
	self->d[0].open = true;
	ASSERT_EQ(0, vd_set_memory_enable(&self->d[0].dev, 1));
	dev_info(_metadata, &self->d[0]);
	if (!vd_env_real_host())
		ASSERT_EQ(VD_IVSHMEM_BAR, self->d[0].base_region);
	ASSERT_LE(0, self->d[0].base_region) TH_LOG("no memory BAR to export");
	self->nr_dev = 1;
	/* pci-testdev: its I/O port BAR, and whatever memory BAR it has */
	if (io && *io) {
		ASSERT_EQ(0, vd_open_group(&self->d[1].dev, io))
			TH_LOG("open %s: %s failed", io, self->d[1].dev.step);
		self->d[1].open = true;
		dev_info(_metadata, &self->d[1]);
		self->nr_dev = 2;
	}
	self->buf = mmap(NULL, FZ_BACKED + SZ_4K, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	ASSERT_EQ(0, mprotect(self->buf + FZ_BACKED, SZ_4K, PROT_NONE));
	self->refs = vd_module_refcnt(vd_env_exporter_module());
	ASSERT_LE(0, self->refs);
	self->fds = vd_open_fds();
	ASSERT_LT(0, self->fds);
	self->bufs = vd_dmabuf_count(vd_env_exporter_module());
}

FIXTURE_TEARDOWN(fuzz)
{
	if (self->d[1].open)
		vd_close(&self->d[1].dev);
	if (self->d[0].open)
		vd_close(&self->d[0].dev);
	if (self->buf && self->buf != MAP_FAILED)
		munmap(self->buf, FZ_BACKED + SZ_4K);
}

/* Lay @q out in the buffer as the ioctl takes it; return the bytes written. */
static size_t put(unsigned char *buf, const struct req *q)
{
	size_t n = (size_t)q->written * RANGE_SZ;

	memcpy(buf, &q->argsz, 4);
	memcpy(buf + 4, &q->flags, 4);
	memcpy(buf + FEAT_HDR, &q->hdr, DB_HDR);
	memcpy(buf + FEAT_HDR + DB_HDR, q->r, n);
	return FEAT_HDR + DB_HDR + n;
}

/*
 * Run request @iter; 0 when its answer is allowed, else -1 after printing
 * why (the first MAX_REPORTS times).
 */
static int one(struct __test_metadata *_metadata, FIXTURE_DATA(fuzz) *self,
	       uint64_t seed, uint64_t iter, struct stats *st, int taint_fd,
	       unsigned long *failures)
{
	static struct req q;
	struct rng r = { .s = seed ^ (iter * 0xd1b54a32d192ed03ULL) };
	struct fz_dev *d;
	unsigned long t0 = 0;
	enum want w;
	uint64_t size;
	size_t len;
	bool lie, bad = false;
	char why[160] = "";
	int ret, err;

	splitmix64(&r.s);
	generate(&r, self->d, self->nr_dev, &q);
	d = &self->d[q.dev];
	w = classify(self->d, &q, &size, &lie);
	len = put(self->buf, &q);
	/* named before it runs: the OOM killer may end this process in it */
	if (copy_bytes(self->d, &q) > BIG_COPY)
		ksft_print_msg("request %llu: nr_ranges %u, argsz 0x%x: asks the kernel for %llu MiB to copy the ranges\n",
			       (unsigned long long)iter, q.hdr.nr_ranges, q.argsz,
			       (unsigned long long)(copy_bytes(self->d, &q) >> 20));
	if (taint_fd >= 0)
		t0 = taint(taint_fd);
	ret = ioctl(d->dev.fd, VFIO_DEVICE_FEATURE, self->buf);
	err = errno;
	memset(self->buf, 0, len);
	st->requests++;

	if (taint_fd >= 0 && !(t0 & TAINT_WARN) && taint(taint_fd) & TAINT_WARN) {
		bad = true;
		snprintf(why, sizeof(why), "the kernel WARNed (taint W) during this request");
	}
	if (ret >= 0 && w == WANT_FD) {
		char v[64] = "";

		st->fds++;
		if (vd_fdinfo(ret, "size", v, sizeof(v)) || strtoull(v, NULL, 0) != size) {
			bad = true;
			snprintf(why, sizeof(why), "dma-buf size %s, want %llu", v,
				 (unsigned long long)size);
		}
		close(ret);
	} else if (ret >= 0 && w == WANT_PROBE && ret == 0) {
		st->probes++;
	} else if (ret >= 0) {
		bad = true;
		snprintf(why, sizeof(why), "returned %d, want %s", ret, want_name(w));
		if (ret > 2)
			close(ret);
	} else if (w == WANT_FD || w == WANT_PROBE) {
		bad = true;
		snprintf(why, sizeof(why), "%s, want %s", strerrorname_np(err) ?: "?",
			 want_name(w));
	} else if (!errno_allowed(w, err, lie, copy_bytes(self->d, &q))) {
		bad = true;
		snprintf(why, sizeof(why), "%s (%d), want %s", strerrorname_np(err) ?: "?",
			 err, want_name(w));
	} else if (w == WANT_OTHER) {
		st->other++;
	} else if (err > 0 && err < 134) {
		st->errs[err]++;
	}
	if (!bad)
		return 0;
	if (++*failures <= MAX_REPORTS) {
		ksft_print_msg("FAIL seed 0x%llx request %llu: %s\n",
			       (unsigned long long)seed, (unsigned long long)iter, why);
		print_req(&q, d->dev.bdf);
		ksft_print_msg("  replay: VD_FUZZ_SEED=0x%llx VD_FUZZ_ITER=%llu %s\n",
			       (unsigned long long)seed, (unsigned long long)iter,
			       "dmabuf_fuzz_test");
	}
	return -1;
}

/* After the fuzz: nothing leaked, and the device still exports and maps. */
static void check_after(struct __test_metadata *_metadata, FIXTURE_DATA(fuzz) *self)
{
	int fd, ret;

	ASSERT_EQ(self->fds, vd_open_fds()) TH_LOG("file descriptors leaked");
	ASSERT_EQ(self->refs, vd_module_refcnt(vd_env_exporter_module()))
		TH_LOG("%s's module count is not back to its baseline", vd_env_exporter_module());
	if (self->bufs >= 0)
		ASSERT_EQ(self->bufs, vd_dmabuf_count(vd_env_exporter_module()))
			TH_LOG("dma-bufs of %s left in debugfs bufinfo", vd_env_exporter_module());
	fd = VD_ASSERT_OK(vd_export(self->d[0].dev.fd, self->d[0].base_region, O_CLOEXEC, 0, &page0, 1, 0));
	ret = vd_importer_roundtrip(fd);
	if (ret != -ENOENT)	/* vd_test_importer is there */
		ASSERT_EQ(1, ret) TH_LOG("attach + map + unmap: %s", vd_strerr(ret));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(self->refs, vd_module_refcnt(vd_env_exporter_module()));
}

TEST_F_TIMEOUT(fuzz, malformed_feature_requests, 900)
{
	uint64_t seed = env_u64("VD_FUZZ_SEED", 0), count, iter, only;
	double secs = env_u64("VD_FUZZ_SECS", 120), t0, t;
	unsigned long failures = 0;
	struct stats st = { 0 };
	char line[512];
	int taint_fd, e, n;

	if (!seed) {
		seed = (uint64_t)time(NULL) << 20 ^ getpid();
		seed ^= (uint64_t)(now() * 1e6);
	}
	count = env_u64("VD_FUZZ_COUNT", 100000);
	only = env_u64("VD_FUZZ_ITER", ~0ULL);
	ksft_print_msg("fuzz seed 0x%llx (replay: VD_FUZZ_SEED=0x%llx), up to %llu requests or %.0f s, devices %s%s%s\n",
		       (unsigned long long)seed, (unsigned long long)seed,
		       (unsigned long long)count, secs, self->d[0].dev.bdf,
		       self->nr_dev > 1 ? " and " : "",
		       self->nr_dev > 1 ? self->d[1].dev.bdf : "");
	/*
	 * Should a request make the kernel allocate more than the guest has,
	 * the OOM killer is to take this process, not the runner's shell.
	 */
	vd_write_file("/proc/self/oom_score_adj", "1000");
	taint_fd = open("/proc/sys/kernel/tainted", O_RDONLY | O_CLOEXEC);
	if (taint(taint_fd) & TAINT_WARN)
		ksft_print_msg("the kernel has warned before: a WARN during the fuzz cannot be told apart\n");

	t0 = now();
	if (only != ~0ULL) {
		one(_metadata, self, seed, only, &st, taint_fd, &failures);
	} else {
		for (iter = 0; iter < count; iter++) {
			one(_metadata, self, seed, iter, &st, taint_fd, &failures);
			if (!(iter & 255) && now() - t0 > secs) {
				iter++;
				break;
			}
		}
	}
	t = now() - t0;
	if (taint_fd >= 0)
		close(taint_fd);

	n = snprintf(line, sizeof(line), "%lu requests in %.1f s (%.0f/s): %lu dma-buf fds, %lu probes, %lu other-feature errors",
		     st.requests, t, st.requests / (t > 0 ? t : 1), st.fds, st.probes, st.other);
	for (e = 0; e < 134; e++)
		if (st.errs[e] && n < (int)sizeof(line))
			n += snprintf(line + n, sizeof(line) - n, ", %s %lu",
				      strerrorname_np(e) ?: "?", st.errs[e]);
	ksft_print_msg("%s\n", line);
	if (only == ~0ULL && st.requests < count)
		ksft_print_msg("stopped by the %.0f s bound before %llu requests\n", secs,
			       (unsigned long long)count);
	if (failures)
		ksft_print_msg("%lu of %lu requests got an answer outside the table (seed 0x%llx)\n",
			       failures, st.requests, (unsigned long long)seed);
	check_after(_metadata, self);
	ASSERT_EQ(0, failures);
}

TEST_HARNESS_MAIN
