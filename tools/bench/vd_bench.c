// SPDX-License-Identifier: GPL-2.0-only
/*
 * vd_bench: the guest half of `make bench`. Measures the exporter's costs on
 * whichever driver the ivshmem device is bound to (ours on 6.x, mainline
 * vfio-pci on 7.x), with vd_test_importer as the importer:
 *
 *   memory     slab bytes and objects per dma-buf, per importer attachment
 *              and per mapping, from /proc/slabinfo (every cache shrunk
 *              first, so per-CPU caches count right) and /proc/meminfo
 *   baselines  paths without dma-buf code, to read the ratios against
 *   export     VFIO_DEVICE_FEATURE_DMA_BUF ioctl, 1 and 64 ranges; the close
 *              that releases the dma-buf
 *   attach/map VDTI_ATTACH, VDTI_MAP (and VDTI_UNMAP) for 1..256 ranges, and
 *              the number of sg segments the map produced
 *   revoke     with N live dma-bufs, each with one attached, mapped
 *              importer: VFIO_DEVICE_RESET round trip; the same revoke and
 *              re-grant through memory decode off/on (config writes), which
 *              has no reset delay in it; config writes that change nothing;
 *              a least-squares line per path
 *   walks      list walks, dma-bufs visited and importer notifications per
 *              operation, counted with ftrace's function tracer
 *   cpu mmap   BAR2 whole (16 MiB) mapped by mmap(2) of a dma-buf and by
 *              vfio-pci's own region mmap of the BAR, on the same kernel:
 *              fault-in per MiB at a 1 GiB-aligned address (PMDs where the
 *              kernel has huge pfnmaps) and 4 KiB off it (PTEs), and the
 *              ratio dma-buf/region (the goal: within 1.1); the page-table
 *              entries the faults inserted, the dma-buf's from our debugfs,
 *              the region's counted with ftrace (vmf_insert_pfn*() calls:
 *              smaps, pagemap and mincore() skip VM_PFNMAP vmas, and vfio-pci
 *              counts nothing); zap time, a memory decode off, against the
 *              pages faulted in and the processes mapping, a line each.
 *              Mainline's dma-bufs have no mmap: those rows say so, and its
 *              region rows still run, the kernel's own baseline
 *
 * Times are CLOCK_MONOTONIC around the one syscall measured (fault-in:
 * around the loop of touches), in µs; every figure is a median over
 * repetitions, with min and max. The process runs pinned to CPU 0. Results
 * go to stdout (a table) and to a JSON file, with the samples, which the
 * host pools over several boots.
 *
 * usage: vd_bench [-q] [-o FILE] [-g FILE]
 *   -q  fewer repetitions (a smoke run)
 *   -o  the JSON results (default $VD_OUT/bench.json)
 *   -g  also trace where a walk's time goes (function_graph) into FILE
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include <vfio-dmabuf/vd.h>

#define PG		4096ULL
/* Every multi-range export: ranges of RANGE_LEN, RANGE_STRIDE apart. */
#define RANGE_LEN	(4 * PG)
#define RANGE_STRIDE	(8 * PG)
#define MAX_LIVE	1000
#define MEM_N		1000
#define MAX_SAMPLES	1024
#define MAX_REPS	1000

static struct vd_dev dev;
static int quick;
static int failed;

/* ---- time and statistics ---- */

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	int n;
	double med, min, max;
};

static struct stats stats_of(const double *v, int n)
{
	double s[MAX_SAMPLES];
	struct stats st = { .n = n };

	if (!n)
		return st;
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	st.med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	st.min = s[0];
	st.max = s[n - 1];
	return st;
}

/* Least squares y = slope * x + icpt, and R². */
static void fit_line(const double *x, const double *y, int n, double *slope,
		     double *icpt, double *r2)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, ss_tot = 0, ss_res = 0, my;
	int i;

	for (i = 0; i < n; i++) {
		sx += x[i];
		sy += y[i];
		sxx += x[i] * x[i];
		sxy += x[i] * y[i];
	}
	*slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
	*icpt = (sy - *slope * sx) / n;
	my = sy / n;
	for (i = 0; i < n; i++) {
		double f = *slope * x[i] + *icpt;

		ss_tot += (y[i] - my) * (y[i] - my);
		ss_res += (y[i] - f) * (y[i] - f);
	}
	*r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : 1;
}

/* ---- JSON: one object of rows, keyed by name ---- */

static char *json_buf;
static size_t json_len;
static FILE *js;
static int js_rows;

static void js_key(const char *key)
{
	fprintf(js, "%s\n    \"%s\": ", js_rows++ ? "," : "", key);
}

static void row_lat(const char *key, const double *v, int n)
{
	struct stats st = stats_of(v, n);

	int i;

	js_key(key);
	fprintf(js, "{\"unit\": \"us\", \"n\": %d, \"median\": %.3f, \"min\": %.3f, \"max\": %.3f, "
		"\"samples\": [", st.n, st.med, st.min, st.max);
	/* in run order, for the host to pool the runs of several boots */
	for (i = 0; i < n; i++)
		fprintf(js, "%s%.2f", i ? "," : "", v[i]);
	fprintf(js, "]}");
	printf("  %-34s %10.1f  [%.1f .. %.1f]  n=%d\n", key, st.med, st.min, st.max, n);
}

static void row_err(const char *key, int err)
{
	js_key(key);
	fprintf(js, "{\"error\": \"%s\", \"errno\": %d}", strerrorname_np(err) ?: "?", err);
	printf("  %-34s fails: %s\n", key, strerrorname_np(err) ?: "?");
}

static void row_val(const char *key, double val)
{
	js_key(key);
	fprintf(js, "{\"value\": %.4f}", val);
	printf("  %-34s %10.3f\n", key, val);
}

/* A line through @npts points, its slope in µs per @per (a dma-buf, a page). */
static void row_fit(const char *key, const char *per, double slope, double icpt,
		    double r2, int npts)
{
	js_key(key);
	fprintf(js, "{\"slope\": %.4f, \"intercept\": %.3f, \"r2\": %.6f, \"points\": %d}",
		slope, icpt, r2, npts);
	printf("  %-34s slope %.3f us/%s, intercept %.1f us, R^2 %.5f\n",
	       key, slope, per, icpt, r2);
}

/*
 * A row this kernel cannot have, and @why: an error row, as row_err's, with
 * the reason for the host's table (mainline's dma-bufs have no mmap).
 */
static void row_na(const char *key, int err, const char *why)
{
	js_key(key);
	fprintf(js, "{\"error\": \"%s\", \"errno\": %d, \"reason\": \"%s\"}",
		strerrorname_np(err) ?: "?", err, why);
	printf("  %-34s n/a: %s (%s)\n", key, why, strerrorname_np(err) ?: "?");
}

#define FAIL(...) do {						\
	fprintf(stderr, "vd_bench: " __VA_ARGS__);		\
	fprintf(stderr, ": %s\n", strerror(errno));		\
	failed++;						\
} while (0)

/* ---- export ---- */

/* A ready VFIO_DEVICE_FEATURE buffer, so only the ioctl is timed. */
static struct vfio_device_feature *export_req(uint32_t nr, uint64_t len, uint64_t stride)
{
	size_t size = sizeof(struct vfio_device_feature) +
		      sizeof(struct vfio_device_feature_dma_buf) +
		      nr * sizeof(struct vfio_region_dma_range);
	struct vfio_device_feature *f = calloc(1, size);
	struct vfio_device_feature_dma_buf *db = (void *)f->data;
	uint32_t i;

	f->argsz = size;
	f->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
	db->region_index = VD_IVSHMEM_BAR;
	db->open_flags = O_RDWR | O_CLOEXEC;
	db->nr_ranges = nr;
	for (i = 0; i < nr; i++) {
		db->dma_ranges[i].offset = i * stride;
		db->dma_ranges[i].length = len;
	}
	return f;
}

static int do_export(struct vfio_device_feature *req)
{
	return ioctl(dev.fd, VFIO_DEVICE_FEATURE, req);
}

static void bench_export(void)
{
	static const uint32_t nrs[] = { 1, 64 };
	double t_exp[MAX_SAMPLES], t_rel[MAX_SAMPLES];
	int reps = quick ? 20 : MAX_REPS, warm = quick ? 2 : 50;
	unsigned int k;
	char key[64];

	printf("export (VFIO_DEVICE_FEATURE_DMA_BUF ioctl), us:\n");
	for (k = 0; k < sizeof(nrs) / sizeof(nrs[0]); k++) {
		struct vfio_device_feature *req = export_req(nrs[k], RANGE_LEN, RANGE_STRIDE);
		int i, n = 0;

		for (i = -warm; i < reps; i++) {
			double t0, t1, t2;
			int fd;

			t0 = now_us();
			fd = do_export(req);
			t1 = now_us();
			if (fd < 0) {
				FAIL("export of %u ranges", nrs[k]);
				break;
			}
			close(fd);	/* the last reference: ->release runs here */
			t2 = now_us();
			if (i >= 0) {
				t_exp[n] = t1 - t0;
				t_rel[n++] = t2 - t1;
			}
		}
		snprintf(key, sizeof(key), "export.%u", nrs[k]);
		row_lat(key, t_exp, n);
		snprintf(key, sizeof(key), "release.%u", nrs[k]);
		row_lat(key, t_rel, n);
		free(req);
	}
}

/* ---- kernel baselines: no dma-buf code in them ---- */

/*
 * The two kernels differ in much more than the exporter: these rows time
 * what both run alike (a bare syscall, a vfio ioctl, an open+close of the
 * same importer module's file) so a ratio in the other rows can be read
 * against the kernels' own ratio.
 */
static void bench_baseline(void)
{
	struct vfio_device_info info;
	double t[MAX_SAMPLES];
	int reps = quick ? 50 : MAX_REPS, i;

	printf("kernel baselines, us:\n");
	for (i = 0; i < reps; i++) {
		double t0 = now_us();

		t[i] = now_us() - t0;
	}
	row_lat("base.clock_gettime", t, reps);
	for (i = 0; i < reps; i++) {
		double t0 = now_us();

		syscall(SYS_getppid);
		t[i] = now_us() - t0;
	}
	row_lat("base.getppid", t, reps);
	for (i = 0; i < reps; i++) {
		double t0;

		memset(&info, 0, sizeof(info));
		info.argsz = sizeof(info);
		t0 = now_us();
		if (ioctl(dev.fd, VFIO_DEVICE_GET_INFO, &info))
			FAIL("VFIO_DEVICE_GET_INFO");
		t[i] = now_us() - t0;
	}
	row_lat("base.vfio_get_info", t, reps);
	for (i = 0; i < reps; i++) {
		double t0 = now_us();
		int fd = vd_importer_open();

		if (fd < 0)
			FAIL("open " VD_IMPORTER_DEV);
		else
			close(fd);
		t[i] = now_us() - t0;
	}
	row_lat("base.importer_open_close", t, reps);
}

/* ---- importer ---- */

/* A new importer attached to @dmabuf, the attach timed in [*t0, *t1]; -1. */
static int timed_attach(int dmabuf, uint32_t nr, double *t0, double *t1)
{
	int imp, ret;

	imp = vd_importer_open();
	if (imp < 0) {
		FAIL("open " VD_IMPORTER_DEV);
		return -1;
	}
	*t0 = now_us();
	ret = vd_importer_attach(imp, dmabuf, 0);
	*t1 = now_us();
	if (ret) {
		FAIL("attach to a dma-buf of %u ranges", nr);
		close(imp);
		return -1;
	}
	return imp;
}

static void bench_attach_map(void)
{
	static const uint32_t nrs[] = { 1, 16, 64, 256 };
	double t_att[MAX_SAMPLES], t_map[MAX_SAMPLES], t_sum[MAX_SAMPLES], t_unmap[MAX_SAMPLES];
	int reps = quick ? 10 : 300, warm = quick ? 1 : 20;
	unsigned int k;
	char key[64];

	printf("importer attach + map (vd_test_importer), us:\n");
	for (k = 0; k < sizeof(nrs) / sizeof(nrs[0]); k++) {
		struct vfio_device_feature *req = export_req(nrs[k], RANGE_LEN, RANGE_STRIDE);
		int i, n = 0, nents = -1, map_err = 0, dmabuf;
		struct vdti_status st = {};

		dmabuf = do_export(req);
		free(req);
		if (dmabuf < 0) {
			FAIL("export of %u ranges", nrs[k]);
			continue;
		}
		/*
		 * Attach alone, never mapped: after a map and unmap, what the
		 * unmap left to the IOMMU's deferred flush would land in the next
		 * attach's time, and mainline's maps of >= 2 ranges fail first.
		 */
		for (i = -warm; i < reps; i++) {
			double t0, t1;
			int imp;

			imp = timed_attach(dmabuf, nrs[k], &t0, &t1);
			if (imp < 0)
				break;
			close(imp);	/* detach */
			if (i >= 0)
				t_att[n++] = t1 - t0;
		}
		snprintf(key, sizeof(key), "attach.%u", nrs[k]);
		row_lat(key, t_att, n);
		n = 0;
		for (i = -warm; i < reps; i++) {
			double t0, t1, t2, t_un = 0;
			int imp, ret;

			imp = timed_attach(dmabuf, nrs[k], &t0, &t1);
			if (imp < 0)
				break;
			ret = vd_importer_map(imp);
			t2 = now_us();
			if (ret < 0) {
				/* mainline 7.2.13: EADDRINUSE for >= 2 ranges */
				map_err = -ret;
			} else {
				nents = ret;
				st = vd_importer_status(imp);
				t_un = now_us();
				vd_importer_unmap(imp);
				t_un = now_us() - t_un;
			}
			close(imp);	/* detach */
			if (i >= 0) {
				t_map[n] = t2 - t1;
				t_sum[n] = t2 - t0;
				t_unmap[n++] = t_un;
			}
			if (map_err)
				break;	/* mainline's bug: one failure says it */
		}
		close(dmabuf);
		if (map_err) {
			snprintf(key, sizeof(key), "map.%u", nrs[k]);
			row_err(key, map_err);
			snprintf(key, sizeof(key), "attach_map.%u", nrs[k]);
			row_err(key, map_err);
			snprintf(key, sizeof(key), "unmap.%u", nrs[k]);
			row_err(key, map_err);
			snprintf(key, sizeof(key), "segments.%u", nrs[k]);
			row_err(key, map_err);
			continue;
		}
		snprintf(key, sizeof(key), "map.%u", nrs[k]);
		row_lat(key, t_map, n);
		snprintf(key, sizeof(key), "attach_map.%u", nrs[k]);
		row_lat(key, t_sum, n);
		snprintf(key, sizeof(key), "unmap.%u", nrs[k]);
		row_lat(key, t_unmap, n);
		snprintf(key, sizeof(key), "segments.%u", nrs[k]);
		row_val(key, nents);
		snprintf(key, sizeof(key), "dma_len_kib.%u", nrs[k]);
		row_val(key, st.dma_len / 1024.0);
		snprintf(key, sizeof(key), "max_seg_kib.%u", nrs[k]);
		row_val(key, st.max_seg / 1024.0);
	}
}

/* ---- revoke ---- */

static int bufs[MAX_LIVE], imps[MAX_LIVE], nlive;

static int grow_live(int n, struct vfio_device_feature *req)
{
	while (nlive < n) {
		bufs[nlive] = do_export(req);
		if (bufs[nlive] < 0) {
			FAIL("export #%d", nlive);
			return -1;
		}
		imps[nlive] = vd_importer_open();
		if (imps[nlive] < 0 || vd_importer_attach(imps[nlive], bufs[nlive], 0)) {
			FAIL("importer #%d", nlive);
			return -1;
		}
		nlive++;
	}
	return 0;
}

static void drop_live(void)
{
	while (nlive > 0) {
		nlive--;
		close(imps[nlive]);
		close(bufs[nlive]);
	}
}

static int map_all(int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (vd_importer_map(imps[i]) != 1) {
			FAIL("map of importer #%d", i);
			return -1;
		}
	return 0;
}

static void sum_status(int n, double *notifies, double *invalidated, double *mapped)
{
	int i;

	*notifies = *invalidated = *mapped = 0;
	for (i = 0; i < n; i++) {
		struct vdti_status st = vd_importer_status(imps[i]);

		*notifies += st.move_notifies;
		*invalidated += st.invalidated;
		*mapped += st.mapped;
	}
}

/* PCI_COMMAND through the config region, each toggle one pwrite. */
static uint64_t cfg_off;
static uint16_t cfg_cmd;
static uint8_t cfg_cls;		/* PCI_CACHE_LINE_SIZE, written back as is */

static int config_init(void)
{
	struct vfio_region_info ri;

	if (vd_region_info(&dev, VFIO_PCI_CONFIG_REGION_INDEX, &ri))
		return -1;
	cfg_off = ri.offset + PCI_COMMAND;
	if (pread(dev.fd, &cfg_cmd, 2, cfg_off) != 2)
		return -1;
	if (pread(dev.fd, &cfg_cls, 1, ri.offset + PCI_CACHE_LINE_SIZE) != 1)
		return -1;
	cfg_cmd |= PCI_COMMAND_MEMORY;
	return pwrite(dev.fd, &cfg_cmd, 2, cfg_off) == 2 ? 0 : -1;
}

static int memory_decode(int on)
{
	uint16_t cmd = on ? cfg_cmd : cfg_cmd & ~PCI_COMMAND_MEMORY;

	return pwrite(dev.fd, &cmd, 2, cfg_off) == 2 ? 0 : -1;
}

static int revoke_reps(void)
{
	return quick ? 3 : 51;
}

static const int revoke_sizes[] = { 1, 10, 100, 250, 500, 1000 };
#define NR_SIZES ((int)(sizeof(revoke_sizes) / sizeof(revoke_sizes[0])))

/* One VFIO_DEVICE_RESET with all @n importers mapped first (untimed). */
static int timed_reset(int n, double *t)
{
	double t0;

	if (map_all(n))
		return -1;
	t0 = now_us();
	if (ioctl(dev.fd, VFIO_DEVICE_RESET)) {
		FAIL("VFIO_DEVICE_RESET");
		return -1;
	}
	*t = now_us() - t0;
	return 0;
}

/* Memory decode off, then on, with all @n importers mapped first. */
static int timed_memcycle(int n, double *off, double *on)
{
	double t0, t1;

	if (map_all(n))
		return -1;
	t0 = now_us();
	if (memory_decode(0)) {
		FAIL("memory decode off");
		return -1;
	}
	t1 = now_us();
	if (memory_decode(1)) {
		FAIL("memory decode on");
		return -1;
	}
	*off = t1 - t0;
	*on = now_us() - t1;
	return 0;
}

/*
 * Rounds, not one size after the other: each round builds the live set up
 * through every size, timing one reset and one memory off+on at each, then
 * drops it. The guest shares two host cores with other work; interleaving
 * spreads whatever that does evenly over the sizes instead of onto one.
 */
/*
 * Config writes that change nothing, no revoke: PCI_COMMAND written back as
 * it is (memory decode on), and PCI_CACHE_LINE_SIZE (offset 0x0c, any
 * other register) written back as it is. What they cost per live dma-buf
 * is what the write path does with the list anyway.
 */
static int timed_cfgnop(double *t_cmd, double *t_other)
{
	double t0 = now_us(), t1;

	if (memory_decode(1)) {
		FAIL("config write");
		return -1;
	}
	t1 = now_us();
	if (pwrite(dev.fd, &cfg_cls, 1, cfg_off - PCI_COMMAND + PCI_CACHE_LINE_SIZE) != 1) {
		FAIL("config write");
		return -1;
	}
	*t_other = now_us() - t1;
	*t_cmd = t1 - t0;
	return 0;
}

static void bench_revoke(void)
{
	static double t_reset[NR_SIZES][MAX_SAMPLES], t_off[NR_SIZES][MAX_SAMPLES],
		      t_on[NR_SIZES][MAX_SAMPLES], t_cycle[NR_SIZES][MAX_SAMPLES],
		      t_nop[NR_SIZES][MAX_SAMPLES], t_other[NR_SIZES][MAX_SAMPLES];
	double x[NR_SIZES], y[6][NR_SIZES], ymin[6][NR_SIZES];
	double nb = 0, ib = 0, mb = 0, na = 0, ia = 0, ma = 0;
	static const char *const fits[6] = {
		"reset", "memoff", "memon", "memcycle", "cmdnop", "cfgnop"
	};
	struct vfio_device_feature *req = export_req(1, PG, 0);
	int k, r, f, reps = revoke_reps(), warm = quick ? 1 : 2, nmax;
	double slope, icpt, r2, dummy, dummy2;
	char key[64];

	nmax = revoke_sizes[NR_SIZES - 1];
	printf("revoke + re-grant with N live dma-bufs, each with one mapped importer, us:\n");
	for (r = -warm; r < reps; r++) {
		for (k = 0; k < NR_SIZES; k++) {
			int n = revoke_sizes[k], last = r == reps - 1 && n == nmax;
			double *tr = r < 0 ? &dummy : &t_reset[k][r];

			if (grow_live(n, req))
				goto out;
			if (last)
				sum_status(n, &nb, &ib, &mb);
			if (timed_reset(n, tr))
				goto out;
			if (last)
				sum_status(n, &na, &ia, &ma);
			if (timed_memcycle(n, r < 0 ? &dummy : &t_off[k][r],
					   r < 0 ? &dummy2 : &t_on[k][r]))
				goto out;
			if (r >= 0)
				t_cycle[k][r] = t_off[k][r] + t_on[k][r];
			if (timed_cfgnop(r < 0 ? &dummy : &t_nop[k][r],
					 r < 0 ? &dummy2 : &t_other[k][r]))
				goto out;
		}
		drop_live();
	}
	for (k = 0; k < NR_SIZES; k++) {
		double *t[6] = {
			t_reset[k], t_off[k], t_on[k], t_cycle[k], t_nop[k], t_other[k]
		};

		x[k] = revoke_sizes[k];
		for (f = 0; f < 6; f++) {
			struct stats st = stats_of(t[f], reps);

			y[f][k] = st.med;
			ymin[f][k] = st.min;
			snprintf(key, sizeof(key), "%s.%d", fits[f], revoke_sizes[k]);
			row_lat(key, t[f], reps);
		}
	}
	/* around one reset of the largest set, all mapped, per importer */
	row_val("notify_per_reset", (na - nb) / nmax);
	row_val("invalidated_per_reset", (ia - ib) / nmax);
	row_val("mapped_after_reset", ma);
	for (f = 0; f < 6; f++) {
		fit_line(x, y[f], NR_SIZES, &slope, &icpt, &r2);
		snprintf(key, sizeof(key), "fit.%s", fits[f]);
		row_fit(key, "dma-buf", slope, icpt, r2, NR_SIZES);
		fit_line(x, ymin[f], NR_SIZES, &slope, &icpt, &r2);
		snprintf(key, sizeof(key), "fitmin.%s", fits[f]);
		row_fit(key, "dma-buf", slope, icpt, r2, NR_SIZES);
	}
out:
	free(req);
	drop_live();
}

/* ---- list walks, counted with the function tracer ---- */

/*
 * perf has no counters in a TCG guest, but ftrace's function tracer works:
 * count, for this process only, the calls of the function that walks the
 * device's dma-buf list (ours: vdb_dmabuf_update; mainline:
 * vfio_pci_dma_buf_move), of fput (each walk takes and drops a file
 * reference on every live dma-buf it visits), and of the importer
 * notification, per reset and per memory decode off+on.
 */
static const char *const trace_funcs[] = {
	"vdb_dmabuf_update", "vfio_pci_dma_buf_move",		/* walks */
	"fput",							/* visits */
	"dma_buf_move_notify", "dma_buf_invalidate_mappings",	/* notifies */
	"dma_resv_wait_timeout",
};
#define NR_TRACE ((int)(sizeof(trace_funcs) / sizeof(trace_funcs[0])))
static char tracing[64];

static int trace_write(const char *file, const char *val, int append)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", tracing, file);
	return vd_write_file_flags(path, val, append ? O_APPEND : O_TRUNC);
}

/*
 * The function tracer on @funcs, for this process only, stopped: the number
 * of them it could filter on, or -errno.
 */
static int trace_setup(const char *const *funcs, int nr)
{
	static const char *const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char path[128], pid[32];
	int i, n = 0, ret;

	mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL);
	for (i = 0; i < 2 && !tracing[0]; i++) {
		snprintf(path, sizeof(path), "%s/available_filter_functions", dirs[i]);
		if (!access(path, R_OK))
			snprintf(tracing, sizeof(tracing), "%s", dirs[i]);
	}
	if (!tracing[0])
		return -ENOENT;
	trace_write("tracing_on", "0", 0);
	trace_write("current_tracer", "nop", 0);
	trace_write("set_ftrace_filter", "", 0);
	for (i = 0; i < nr; i++)
		n += !trace_write("set_ftrace_filter", funcs[i], 1);
	/* an empty filter traces every function: never start without one */
	if (!n)
		return -ENOENT;
	snprintf(pid, sizeof(pid), "%d", getpid());
	trace_write("set_ftrace_pid", pid, 0);
	trace_write("buffer_size_kb", "8192", 0);
	trace_write("trace", "", 0);
	ret = trace_write("current_tracer", "function", 0);
	return ret ? ret : n;
}

static void trace_teardown(void)
{
	trace_write("tracing_on", "0", 0);
	trace_write("current_tracer", "nop", 0);
	trace_write("set_ftrace_filter", "", 0);
	trace_write("set_ftrace_pid", "", 0);
}

/* Calls of each of @funcs in the trace so far; clears it. */
static void trace_count(const char *const *funcs, int nr, long *counts)
{
	char path[128], line[512];
	FILE *f;
	int i;

	memset(counts, 0, nr * sizeof(*counts));
	snprintf(path, sizeof(path), "%s/trace", tracing);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, ": ");

		if (line[0] == '#' || !p)
			continue;
		for (i = 0; i < nr; i++) {
			size_t l = strlen(funcs[i]);

			if (!strncmp(p + 2, funcs[i], l) && p[2 + l] == ' ')
				counts[i]++;
		}
	}
	fclose(f);
	trace_write("trace", "", 0);
}

/* ", \"@key\": {func: walks per round, ...}" of one operation's counts. */
static void js_walks(const char *key, const long *counts, int rounds)
{
	int i;

	fprintf(js, ", \"%s\": {", key);
	for (i = 0; i < NR_TRACE; i++)
		fprintf(js, "%s\"%s\": %.2f", i ? ", " : "", trace_funcs[i],
			(double)counts[i] / rounds);
	fprintf(js, "}");
}

static void bench_walks(void)
{
	struct vfio_device_feature *req = export_req(1, PG, 0);
	const int n = 10, k = 5;
	long c_reset[NR_TRACE], c_mem[NR_TRACE], c_nop[NR_TRACE], c_other[NR_TRACE];
	double t, t2;
	int i;

	printf("list walks (ftrace function tracer, %d dma-bufs, %d of each):\n", n, k);
	if (trace_setup(trace_funcs, NR_TRACE) < 0) {
		js_key("walks");
		fprintf(js, "{\"error\": \"no tracefs or none of the functions traceable\"}");
		printf("  not observable: no tracefs, or none of the functions is traceable\n");
		trace_teardown();
		free(req);
		return;
	}
	if (grow_live(n, req))
		goto out;
	trace_write("tracing_on", "1", 0);
	for (i = 0; i < k; i++)
		if (timed_reset(n, &t))
			goto out;
	trace_write("tracing_on", "0", 0);
	trace_count(trace_funcs, NR_TRACE, c_reset);
	trace_write("tracing_on", "1", 0);
	for (i = 0; i < k; i++)
		if (timed_memcycle(n, &t, &t2))
			goto out;
	trace_write("tracing_on", "0", 0);
	trace_count(trace_funcs, NR_TRACE, c_mem);
	trace_write("tracing_on", "1", 0);
	for (i = 0; i < k; i++)
		if (memory_decode(1))
			goto out;
	trace_write("tracing_on", "0", 0);
	trace_count(trace_funcs, NR_TRACE, c_nop);
	trace_write("tracing_on", "1", 0);
	for (i = 0; i < k; i++)
		if (pwrite(dev.fd, &cfg_cls, 1, cfg_off - PCI_COMMAND + PCI_CACHE_LINE_SIZE) != 1)
			goto out;
	trace_write("tracing_on", "0", 0);
	trace_count(trace_funcs, NR_TRACE, c_other);

	js_key("walks");
	fprintf(js, "{\"dmabufs\": %d, \"rounds\": %d", n, k);
	js_walks("per_reset", c_reset, k);
	js_walks("per_memcycle", c_mem, k);
	js_walks("per_cmdnop", c_nop, k);
	js_walks("per_cfgnop", c_other, k);
	fprintf(js, "}");
	for (i = 0; i < NR_TRACE; i++)
		printf("  %-28s per reset %6.2f, memory off+on %6.2f, COMMAND write %6.2f, "
		       "other config write %6.2f\n", trace_funcs[i], (double)c_reset[i] / k,
		       (double)c_mem[i] / k, (double)c_nop[i] / k, (double)c_other[i] / k);
out:
	trace_teardown();
	drop_live();
	free(req);
}

/*
 * -g FILE: where the time of a walk goes. function_graph on the walk only
 * (set_graph_function), three levels deep, for 3 memory off+on and 3
 * resets with 100 mapped importers; the raw trace goes to FILE. The tracer
 * slows every traced call, so these durations are for proportions only.
 */
static void bench_graph(const char *file)
{
	static const char *const walk_funcs[] = { "vdb_dmabuf_update", "vfio_pci_dma_buf_move" };
	struct vfio_device_feature *req = export_req(1, PG, 0);
	char path[128], buf[65536];
	int i, n = 100, in, outfd, set = 0;
	double t, t2;
	ssize_t len;

	/* leaves the function tracer filtered, off */
	if (trace_setup(trace_funcs, NR_TRACE) < 0) {
		trace_teardown();
		free(req);
		return;
	}
	trace_write("current_tracer", "nop", 0);
	trace_write("set_ftrace_filter", "", 0);
	/* VD_BENCH_GRAPH="func ..." and VD_BENCH_GRAPH_DEPTH: look elsewhere */
	if (getenv("VD_BENCH_GRAPH")) {
		char funcs[512], *f, *save;

		snprintf(funcs, sizeof(funcs), "%s", getenv("VD_BENCH_GRAPH"));
		for (f = strtok_r(funcs, " ", &save); f; f = strtok_r(NULL, " ", &save))
			set += !trace_write("set_graph_function", f, 1);
	} else {
		for (i = 0; i < 2; i++)
			set += !trace_write("set_graph_function", walk_funcs[i], 1);
	}
	if (!set)
		goto out;
	trace_write("max_graph_depth", getenv("VD_BENCH_GRAPH_DEPTH") ?: "3", 0);
	trace_write("trace", "", 0);
	trace_write("current_tracer", "function_graph", 0);
	if (grow_live(n, req))
		goto out;
	trace_write("tracing_on", "1", 0);
	for (i = 0; i < 3; i++)
		if (timed_memcycle(n, &t, &t2))
			break;
	for (i = 0; i < 3; i++)
		if (timed_reset(n, &t))
			break;
	trace_write("tracing_on", "0", 0);
	snprintf(path, sizeof(path), "%s/trace", tracing);
	in = open(path, O_RDONLY);
	outfd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	while (in >= 0 && outfd >= 0 && (len = read(in, buf, sizeof(buf))) > 0)
		(void)!write(outfd, buf, len);
	if (in >= 0)
		close(in);
	if (outfd >= 0)
		close(outfd);
	printf("function_graph of the walks (%d dma-bufs): %s\n", n, file);
out:
	trace_write("set_graph_function", "", 0);
	trace_write("max_graph_depth", "0", 0);
	trace_teardown();
	drop_live();
	free(req);
}

/* ---- CPU mmap: the dma-buf's, beside vfio-pci's region mmap of the BAR ---- */

/*
 * The same 16 MiB (BAR2 whole) mapped two ways on the same kernel: mmap(2)
 * of a dma-buf that exports it as one range, and vfio-pci's own mmap of
 * the BAR2 region through the device fd, which is what a VMM maps today.
 * Both map nothing at mmap time; every first touch faults one entry in
 * with vmf_insert_pfn(), or vmf_insert_pfn_pmd()/_pud() where address,
 * range and BAR are aligned; every memory decode off zaps both with
 * unmap_mapping_range() (of the dma-buf's file, of the device's).
 */
#define SZ_1G		(1ULL << 30)
#define MM_LEN		(16ULL << 20)
#define MM_MIB		((double)(MM_LEN >> 20))
#define MM_SKEW		PG	/* off the 2 MiB grid: only pages fit */
#define MM_MAX_PROCS	8

enum { MM_DMABUF, MM_REGION, MM_KINDS };

static const char *const mm_kinds[MM_KINDS] = { "dmabuf", "region" };
static const char *const mm_wheres[2] = { "aligned", "unaligned" };
static const size_t mm_skews[2] = { 0, MM_SKEW };
static int mm_fd[MM_KINDS];
static off_t mm_off[MM_KINDS];
static unsigned long mm_ino;	/* the dma-buf's, for its debugfs line */
static int mm_errno;		/* why the dma-buf has no mmap here ... */
static const char *mm_why;	/* ... in words; NULL if it has one */
static volatile uint32_t mm_sink;

/* Faults per touched page, per page of a zap, and processes mapping. */
static const int mm_pages[] = { 0, 1, 16, 256, 4096 };
#define MM_NR_PAGES ((int)(sizeof(mm_pages) / sizeof(mm_pages[0])))
static const int mm_procs[] = { 1, 2, 4, MM_MAX_PROCS };
#define MM_NR_PROCS ((int)(sizeof(mm_procs) / sizeof(mm_procs[0])))

/* What fills a page-table entry of each size, for ftrace to count. */
static const char *const mm_insert[3] = {
	"vmf_insert_pfn", "vmf_insert_pfn_pmd", "vmf_insert_pfn_pud"
};
static const char *const mm_levels[3] = { "pte", "pmd", "pud" };

/* All 16 MiB mapped, inside a larger PROT_NONE reservation. */
struct mm_map {
	char *area, *p;
	size_t area_len;
};

/*
 * Map @kind at a 1 GiB-aligned address plus @skew: mmap(2) aligns to a
 * page only, so reserve enough address space and MAP_FIXED into it.
 */
static int mm_map(int kind, size_t skew, struct mm_map *m)
{
	uintptr_t at;

	m->area_len = SZ_1G + skew + MM_LEN;
	m->area = mmap(NULL, m->area_len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->area == MAP_FAILED)
		return -1;
	at = ((uintptr_t)m->area + SZ_1G - 1) & ~(uintptr_t)(SZ_1G - 1);
	m->p = mmap((void *)(at + skew), MM_LEN, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_FIXED, mm_fd[kind], mm_off[kind]);
	if (m->p == MAP_FAILED) {
		munmap(m->area, m->area_len);
		return -1;
	}
	return 0;
}

/* The mapping, the rest of the reservation and their page tables. */
static void mm_unmap(struct mm_map *m)
{
	munmap(m->area, m->area_len);
}

/* One read per 4 KiB page of the first @len bytes at @p. */
static void mm_touch(const char *p, size_t len)
{
	uint32_t sum = 0;
	size_t off;

	for (off = 0; off < len; off += PG)
		sum += *(const volatile uint32_t *)(p + off);
	mm_sink = sum;
}

/* The dma-buf's count @key in our debugfs; -1 where there is none. */
static long mm_dbg(int kind, const char *key)
{
	if (kind != MM_DMABUF || mm_why)
		return -1;
	return vd_dbg_dmabuf(dev.bdf, mm_ino, key);
}

/* A latency row of @kind, or why this kernel has none. */
static void mm_row(const char *key, int kind, const double *v, int n)
{
	if (kind == MM_DMABUF && mm_why)
		row_na(key, mm_errno, mm_why);
	else
		row_lat(key, v, n);
}

/* Sample @r of @v, or a scratch slot for the warm-up rounds (r < 0). */
static double *mm_slot(double *v, int r)
{
	static double scratch;

	return r < 0 ? &scratch : &v[r];
}

/* The kind first in round @r's @i-th turn: each first in every other round. */
static int mm_turn(int r, int i)
{
	return r & 1 ? MM_KINDS - 1 - i : i;
}

/*
 * Export BAR2 whole as one dma-buf, the region's mmap offset, and whether
 * the dma-buf maps: mainline's does not (its dma-buf core says EINVAL).
 */
static int mm_setup(void)
{
	struct vfio_device_feature *req = export_req(1, MM_LEN, 0);
	struct vfio_region_info ri;
	struct stat st;
	void *p;

	mm_fd[MM_DMABUF] = do_export(req);
	free(req);
	if (mm_fd[MM_DMABUF] < 0 || fstat(mm_fd[MM_DMABUF], &st)) {
		FAIL("export of BAR2 whole");
		return -1;
	}
	mm_ino = st.st_ino;
	if (vd_region_info(&dev, VD_IVSHMEM_BAR, &ri) ||
	    !(ri.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
		FAIL("BAR2 region info, or no region mmap");
		return -1;
	}
	mm_fd[MM_REGION] = dev.fd;
	mm_off[MM_REGION] = ri.offset;
	p = mmap(NULL, PG, PROT_READ, MAP_SHARED, mm_fd[MM_DMABUF], 0);
	if (p != MAP_FAILED) {
		munmap(p, PG);
		return 0;
	}
	mm_errno = errno;
	if (!vd_env_is_mainline()) {
		FAIL("mmap of the dma-buf");
		return -1;
	}
	mm_why = "mainline has no dma-buf mmap";
	return 0;
}

/*
 * Touch all 16 MiB of a new mapping of @kind, every touch a fault, then
 * again, no touch a fault (the reads alone): µs per MiB, each.
 */
static int mm_fault_in(int kind, size_t skew, double *t_fault, double *t_again)
{
	struct mm_map m;
	double t0, t1;

	if (mm_map(kind, skew, &m)) {
		FAIL("mmap of the %s", mm_kinds[kind]);
		return -1;
	}
	t0 = now_us();
	mm_touch(m.p, MM_LEN);
	t1 = now_us();
	mm_touch(m.p, MM_LEN);
	*t_again = (now_us() - t1) / MM_MIB;
	*t_fault = (t1 - t0) / MM_MIB;
	mm_unmap(&m);
	return 0;
}

/*
 * Fault-in per MiB at a 1 GiB-aligned address (PMDs where the kernel has
 * huge pfnmaps) and 4 KiB past one (pages), both kinds interleaved, and
 * the ratio dma-buf/region of the medians: the goal is 1.1 at most. A
 * benchmark: it reports the ratio, it does not fail on it. The second
 * touch, with no fault, says how much of a fault-in the reads are.
 */
static void mmap_fault(void)
{
	static double t[2][MM_KINDS][MAX_SAMPLES], t_again[2][MM_KINDS][MAX_SAMPLES];
	int reps = quick ? 5 : 31, warm = quick ? 1 : 3, r, a, i, k;
	double med[MM_KINDS];
	char key[64];

	for (r = -warm; r < reps; r++)
		for (a = 0; a < 2; a++)
			for (i = 0; i < MM_KINDS; i++) {
				k = mm_turn(r, i);
				if (k == MM_DMABUF && mm_why)
					continue;
				if (mm_fault_in(k, mm_skews[a], mm_slot(t[a][k], r),
						mm_slot(t_again[a][k], r)))
					return;
			}
	for (a = 0; a < 2; a++) {
		for (k = 0; k < MM_KINDS; k++) {
			snprintf(key, sizeof(key), "mmap.fault.%s.%s", mm_kinds[k], mm_wheres[a]);
			mm_row(key, k, t[a][k], reps);
			med[k] = stats_of(t[a][k], reps).med;
			snprintf(key, sizeof(key), "mmap.retouch.%s.%s", mm_kinds[k], mm_wheres[a]);
			mm_row(key, k, t_again[a][k], reps);
		}
		snprintf(key, sizeof(key), "mmap.fault_ratio.%s", mm_wheres[a]);
		if (mm_why)
			row_na(key, mm_errno, mm_why);
		else
			row_val(key, med[MM_DMABUF] / med[MM_REGION]);
	}
}

/*
 * The entries one touch of all of a new mapping of @kind faulted in, per
 * size: @ftr counted by ftrace (if @traced), @dbg (the dma-buf only) from
 * our debugfs, or -errno.
 */
static int mm_entries(int kind, size_t skew, int traced, long *dbg, long *ftr)
{
	long before[3];
	struct mm_map m;
	int i;

	if (mm_map(kind, skew, &m)) {
		FAIL("mmap of the %s", mm_kinds[kind]);
		return -1;
	}
	for (i = 0; i < 3; i++)
		before[i] = mm_dbg(kind, mm_levels[i]);
	if (traced) {
		trace_write("trace", "", 0);
		trace_write("tracing_on", "1", 0);
	}
	mm_touch(m.p, MM_LEN);
	if (traced) {
		trace_write("tracing_on", "0", 0);
		trace_count(mm_insert, 3, ftr);
	}
	for (i = 0; i < 3; i++) {
		long after = mm_dbg(kind, mm_levels[i]);

		if (before[i] < 0)
			dbg[i] = before[i];
		else if (after < 0)
			dbg[i] = after;
		else
			dbg[i] = after - before[i];
	}
	mm_unmap(&m);
	return 0;
}

/* Rows "mmap.pte.@kind.@where" and so on of @counts, or -errno. */
static void mm_entry_rows(int kind, int a, const long *counts)
{
	char key[64];
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "mmap.%s.%s.%s", mm_levels[i], mm_kinds[kind],
			 mm_wheres[a]);
		if (counts[i] < 0)
			row_err(key, -counts[i]);
		else
			row_val(key, counts[i]);
	}
}

/*
 * Page-table entries for all 16 MiB: the dma-buf's from our debugfs (its
 * fault counts before and after the touch); the region's from the function
 * tracer, the calls of vmf_insert_pfn*() during the touch, which is the
 * one place where they show: /proc/PID/smaps, pagemap and mincore() all
 * skip VM_PFNMAP vmas. The tracer counts the dma-buf's too; where they
 * disagree with debugfs, a note says so.
 */
static void mmap_entries(void)
{
	int traced = trace_setup(mm_insert, 3) == 3, a, k;
	long dbg[3], ftr[3];
	char key[64];

	for (a = 0; a < 2; a++) {
		if (mm_why) {
			for (k = 0; k < 3; k++) {
				snprintf(key, sizeof(key), "mmap.%s.dmabuf.%s", mm_levels[k],
					 mm_wheres[a]);
				row_na(key, mm_errno, mm_why);
			}
		} else if (!mm_entries(MM_DMABUF, mm_skews[a], traced, dbg, ftr)) {
			mm_entry_rows(MM_DMABUF, a, dbg);
			if (traced && memcmp(dbg, ftr, sizeof(dbg)))
				printf("  note: ftrace counted %ld/%ld/%ld, debugfs %ld/%ld/%ld\n",
				       ftr[0], ftr[1], ftr[2], dbg[0], dbg[1], dbg[2]);
		}
		if (!traced) {
			for (k = 0; k < 3; k++) {
				snprintf(key, sizeof(key), "mmap.%s.region.%s", mm_levels[k],
					 mm_wheres[a]);
				row_na(key, ENOENT, "not observable: no ftrace of vmf_insert_pfn*()");
			}
		} else if (!mm_entries(MM_REGION, mm_skews[a], traced, dbg, ftr)) {
			mm_entry_rows(MM_REGION, a, ftr);
		}
	}
	trace_teardown();
}

/*
 * Memory decode off, timed: it revokes, zapping every CPU mapping of the
 * BAR, before it returns. Then on again, untimed. The dma-buf, mapped by
 * @vmas vmas, must say in debugfs that they were and that it zapped (its
 * count was @zaps before).
 */
static int mm_timed_zap(int kind, long vmas, long zaps, double *t)
{
	long now_vmas, now_zaps;
	double t0 = now_us();

	if (memory_decode(0)) {
		FAIL("memory decode off");
		return -1;
	}
	*t = now_us() - t0;
	now_vmas = mm_dbg(kind, "vmas");
	now_zaps = mm_dbg(kind, "zaps");
	if (memory_decode(1)) {
		FAIL("memory decode on");
		return -1;
	}
	if (zaps >= 0 && (now_vmas != vmas || now_zaps != zaps + !!vmas)) {
		fprintf(stderr, "vd_bench: dma-buf mapped %ld times: debugfs says vmas %ld, "
			"zaps %ld then %ld\n", vmas, now_vmas, zaps, now_zaps);
		failed++;
		return -1;
	}
	return 0;
}

/* A new mapping of @kind, @pages pages of it touched: time its zap. */
static int mm_zap_pages(int kind, size_t skew, int pages, double *t)
{
	long zaps = mm_dbg(kind, "zaps");
	struct mm_map m;
	int ret;

	if (mm_map(kind, skew, &m)) {
		FAIL("mmap of the %s", mm_kinds[kind]);
		return -1;
	}
	mm_touch(m.p, pages * PG);
	ret = mm_timed_zap(kind, 1, zaps, t);
	mm_unmap(&m);
	return ret;
}

/* A child's life: map @kind, fault 16 pages in, say so, wait for EOF on @go. */
static void mm_child(int kind, int ready, int go)
{
	struct mm_map m;
	char c;

	if (mm_map(kind, MM_SKEW, &m))
		_exit(1);
	mm_touch(m.p, 16 * PG);
	if (write(ready, "r", 1) != 1)
		_exit(1);
	close(ready);
	(void)!read(go, &c, 1);
	_exit(0);
}

/* Close @go, the children's signal to end, and reap @n: 0 if all did well. */
static int mm_reap(int go, const pid_t *pids, int n)
{
	int i, status, bad = 0;

	close(go);
	for (i = 0; i < n; i++)
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	return bad ? -1 : 0;
}

/*
 * @n processes mapping @kind, each with 16 pages faulted in (the dma-buf
 * fd and the device fd are inherited; each maps its own): time the zap of
 * them all.
 */
static int mm_zap_procs(int kind, int n, double *t)
{
	long zaps = mm_dbg(kind, "zaps");
	int ready[2], go[2], i, up = 0, ret = -1;
	pid_t pids[MM_MAX_PROCS];
	char c;

	if (pipe(ready)) {
		FAIL("pipe");
		return -1;
	}
	if (pipe(go)) {
		FAIL("pipe");
		close(ready[0]);
		close(ready[1]);
		return -1;
	}
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			break;
		if (!pids[i]) {
			close(ready[0]);
			close(go[1]);
			mm_child(kind, ready[1], go[0]);
		}
	}
	close(ready[1]);
	close(go[0]);
	/* EOF once every child has said it is ready, or has died */
	while (up < i && read(ready[0], &c, 1) == 1)
		up++;
	close(ready[0]);
	if (up == n)
		ret = mm_timed_zap(kind, n, zaps, t);
	else
		FAIL("%d of %d processes mapping the %s", up, n, mm_kinds[kind]);
	if (mm_reap(go[1], pids, i) && !ret) {
		FAIL("a process mapping the %s", mm_kinds[kind]);
		ret = -1;
	}
	return ret;
}

/* Lines through the medians and the minima of @t at @xs, µs per @per. */
static void mm_fit(int kind, const char *what, const char *per, const int *xs, int nx,
		   double (*t)[MAX_SAMPLES], int reps)
{
	double x[MM_NR_PAGES], med[MM_NR_PAGES], min[MM_NR_PAGES], slope, icpt, r2;
	char key[64];
	int i;

	for (i = 0; i < nx; i++) {
		struct stats st = stats_of(t[i], reps);

		x[i] = xs[i];
		med[i] = st.med;
		min[i] = st.min;
	}
	/* a line through the medians, and one through the minima */
	for (i = 0; i < 2; i++) {
		snprintf(key, sizeof(key), "%s.mmap.zap.%s.%s", i ? "fitmin" : "fit",
			 mm_kinds[kind], what);
		if (kind == MM_DMABUF && mm_why) {
			row_na(key, mm_errno, mm_why);
			continue;
		}
		fit_line(x, i ? min : med, nx, &slope, &icpt, &r2);
		row_fit(key, per, slope, icpt, r2, nx);
	}
}

/*
 * Zap time against pages and processes, rounds interleaving every case:
 * memory decode off with the dma-buf exported but mapped nowhere (the
 * baseline: the revoke without a zap); with one mapping of @kind and N
 * pages faulted in off the 2 MiB grid (PTEs); with all 16 MiB faulted in on
 * it (8 PMDs where the kernel can); with P processes, 16 pages each.
 */
static void mmap_zap(void)
{
	static double t_base[MAX_SAMPLES], t_pages[MM_KINDS][MM_NR_PAGES][MAX_SAMPLES],
		      t_aligned[MM_KINDS][MAX_SAMPLES], t_procs[MM_KINDS][MM_NR_PROCS][MAX_SAMPLES];
	int reps = quick ? 3 : 21, warm = 1, r, i, j, k;
	char key[64];

	for (r = -warm; r < reps; r++) {
		if (mm_timed_zap(MM_DMABUF, 0, mm_dbg(MM_DMABUF, "zaps"), mm_slot(t_base, r)))
			return;
		for (i = 0; i < MM_KINDS; i++) {
			k = mm_turn(r, i);
			if (k == MM_DMABUF && mm_why)
				continue;
			for (j = 0; j < MM_NR_PAGES; j++)
				if (mm_zap_pages(k, MM_SKEW, mm_pages[j], mm_slot(t_pages[k][j], r)))
					return;
			if (mm_zap_pages(k, 0, MM_LEN / PG, mm_slot(t_aligned[k], r)))
				return;
			for (j = 0; j < MM_NR_PROCS; j++)
				if (mm_zap_procs(k, mm_procs[j], mm_slot(t_procs[k][j], r)))
					return;
		}
	}
	row_lat("mmap.zap.base", t_base, reps);
	for (k = 0; k < MM_KINDS; k++) {
		for (j = 0; j < MM_NR_PAGES; j++) {
			snprintf(key, sizeof(key), "mmap.zap.%s.pages.%d", mm_kinds[k], mm_pages[j]);
			mm_row(key, k, t_pages[k][j], reps);
		}
		snprintf(key, sizeof(key), "mmap.zap.%s.aligned", mm_kinds[k]);
		mm_row(key, k, t_aligned[k], reps);
		for (j = 0; j < MM_NR_PROCS; j++) {
			snprintf(key, sizeof(key), "mmap.zap.%s.procs.%d", mm_kinds[k], mm_procs[j]);
			mm_row(key, k, t_procs[k][j], reps);
		}
		mm_fit(k, "pages", "page", mm_pages, MM_NR_PAGES, t_pages[k], reps);
		mm_fit(k, "procs", "process", mm_procs, MM_NR_PROCS, t_procs[k], reps);
	}
}

static void bench_mmap(void)
{
	char thp[128] = "?";

	vd_read_file("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof(thp));
	printf("CPU mmap of BAR2 (16 MiB), the dma-buf's beside the region's, us "
	       "(fault-in: us per MiB; THP %s):\n", thp);
	mm_fd[MM_DMABUF] = -1;
	if (!mm_setup()) {
		mmap_fault();
		mmap_entries();
		mmap_zap();
	}
	if (mm_fd[MM_DMABUF] >= 0)
		close(mm_fd[MM_DMABUF]);
}

/* ---- memory ---- */

#define MAX_CACHES	512

struct slab {
	int n;
	struct { char name[64]; long active, objsize; } c[MAX_CACHES];
	long slab_kb, sunreclaim_kb;
};

/*
 * Make /proc/slabinfo exact: objects cached per CPU (SLUB's CPU slabs and
 * partial lists on 6.12, the sheaves and barns on 7.x) count as in use
 * there; shrinking every cache hands them back first. And fold the per-CPU
 * vmstat deltas into /proc/meminfo.
 */
static int shrink_fd[MAX_CACHES], nr_shrink = -1;

static void slab_flush(void)
{
	static const char *const dir = "/sys/kernel/slab";
	char path[512];
	struct dirent *de;
	int pass, i;
	DIR *d;

	/*
	 * Opened once and kept: an open allocates (and its close frees) into
	 * the very caches being flushed.
	 */
	if (nr_shrink < 0) {
		nr_shrink = 0;
		d = opendir(dir);
		while (d && (de = readdir(d)) && nr_shrink < MAX_CACHES) {
			if (de->d_name[0] == '.' || de->d_name[0] == ':')
				continue;	/* ":0000064" are aliases */
			snprintf(path, sizeof(path), "%s/%s/shrink", dir, de->d_name);
			shrink_fd[nr_shrink] = open(path, O_WRONLY | O_CLOEXEC);
			if (shrink_fd[nr_shrink] >= 0)
				nr_shrink++;
		}
		if (d)
			closedir(d);
	}
	usleep(300000);		/* RCU-deferred frees of what ran before */
	/* twice: the first pass's own allocations land in flushed caches */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < nr_shrink; i++)
			/* a cache that cannot shrink counts as it is */
			(void)!pwrite(shrink_fd[i], "1", 1, 0);
	vd_write_file("/proc/sys/vm/stat_refresh", "1");	/* best effort */
}

static int read_slab(struct slab *s)
{
	char line[512];
	FILE *f;

	slab_flush();
	s->n = 0;
	f = fopen("/proc/slabinfo", "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && s->n < MAX_CACHES) {
		long num;

		if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
			continue;
		if (sscanf(line, "%63s %ld %ld %ld", s->c[s->n].name, &s->c[s->n].active,
			   &num, &s->c[s->n].objsize) == 4)
			s->n++;
	}
	fclose(f);
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "Slab: %ld", &s->slab_kb);
		sscanf(line, "SUnreclaim: %ld", &s->sunreclaim_kb);
	}
	fclose(f);
	return 0;
}

/* What @n operations cost between @a and @b, per operation. */
static void row_mem(const char *key, const struct slab *a, const struct slab *b, int n)
{
	double bytes = 0, objs = 0;
	int i, j, first = 1;

	js_key(key);
	fprintf(js, "{\"n\": %d, \"caches\": {", n);
	printf("  %-34s", key);
	for (i = 0; i < b->n; i++) {
		long before = 0;
		double d;

		for (j = 0; j < a->n; j++)
			if (!strcmp(a->c[j].name, b->c[i].name)) {
				before = a->c[j].active;
				break;
			}
		d = (double)(b->c[i].active - before) / n;
		bytes += d * b->c[i].objsize;
		objs += d;
		/* a structure allocated once per operation shows as ~1.0 */
		if (fabs(d) >= 0.25) {
			fprintf(js, "%s\"%s\": {\"objs\": %.3f, \"objsize\": %ld}",
				first ? "" : ", ", b->c[i].name, d, b->c[i].objsize);
			printf(" %s:%.2f", b->c[i].name, d);
			first = 0;
		}
	}
	fprintf(js, "}, \"slab_bytes\": %.1f, \"objs\": %.3f, \"meminfo_slab_bytes\": %.1f, "
		"\"meminfo_sunreclaim_bytes\": %.1f}", bytes, objs,
		(b->slab_kb - a->slab_kb) * 1024.0 / n,
		(b->sunreclaim_kb - a->sunreclaim_kb) * 1024.0 / n);
	printf("\n  %-34s %.0f B/op (%.2f objs); meminfo Slab %+.0f B/op\n", "",
	       bytes, objs, (b->slab_kb - a->slab_kb) * 1024.0 / n);
}

static struct slab s0, s1, s2, s3, s4, s5, sn;

static void bench_memory(void)
{
	struct vfio_device_feature *req = export_req(1, PG, 0);
	int n = quick ? 200 : MEM_N;

	printf("memory per operation, %d of each (slab objects per op by cache):\n", n);
	/* stdout is a file on 9p: no 9p requests while counting */
	fflush(stdout);
	/* the first snapshot also collects what setting up left to free */
	if (read_slab(&sn) || read_slab(&sn) || read_slab(&s0)) {
		FAIL("/proc/slabinfo");
		return;
	}
	/* export n dma-bufs */
	for (nlive = 0; nlive < n; nlive++) {
		bufs[nlive] = do_export(req);
		if (bufs[nlive] < 0) {
			FAIL("export #%d", nlive);
			goto out;
		}
		imps[nlive] = -1;
	}
	read_slab(&s1);
	for (int i = 0; i < n; i++) {
		imps[i] = vd_importer_open();
		if (imps[i] < 0) {
			FAIL("open " VD_IMPORTER_DEV);
			goto out;
		}
	}
	read_slab(&s2);
	for (int i = 0; i < n; i++)
		if (vd_importer_attach(imps[i], bufs[i], 0)) {
			FAIL("attach #%d", i);
			goto out;
		}
	read_slab(&s3);
	if (map_all(n))
		goto out;
	read_slab(&s4);
	/* two snapshots with nothing in between: the floor of the others */
	row_mem("mem.noise", &sn, &s0, n);
	row_mem("mem.export", &s0, &s1, n);
	row_mem("mem.importer_open", &s1, &s2, n);
	row_mem("mem.attach", &s2, &s3, n);
	row_mem("mem.map", &s3, &s4, n);
out:
	free(req);
	while (nlive > 0) {
		nlive--;
		if (imps[nlive] >= 0)
			close(imps[nlive]);
		close(bufs[nlive]);
	}
	read_slab(&s5);
	row_mem("mem.residual", &s0, &s5, n);
}

/* ---- main ---- */

static void clocksource(char *buf, size_t len)
{
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");

	snprintf(buf, len, "?");
	if (f) {
		if (fgets(buf, len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	const char *out = NULL, *graph = NULL;
	struct rlimit rl = { 8192, 8192 };
	struct vfio_region_info ri;
	struct utsname u;
	char bdf[32], path[512], clock_before[64], clock_after[64];
	cpu_set_t cpus;
	FILE *f;
	int opt, imp;

	while ((opt = getopt(argc, argv, "qo:g:")) != -1) {
		if (opt == 'q')
			quick = 1;
		else if (opt == 'o')
			out = optarg;
		else if (opt == 'g')
			graph = optarg;
		else {
			fprintf(stderr, "usage: %s [-q] [-o FILE] [-g FILE]\n", argv[0]);
			return 2;
		}
	}
	if (!out) {
		snprintf(path, sizeof(path), "%s/bench.json", getenv("VD_OUT") ?: ".");
		out = path;
	}

	/* One CPU: no migration, and one per-CPU slab per cache to count. */
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	/* 2,000 fds and more; grow the fd table now, not while measuring */
	if (setrlimit(RLIMIT_NOFILE, &rl))
		perror("setrlimit");
	if (dup2(0, 6000) == 6000)
		close(6000);

	if (vd_env_bdf(bdf, sizeof(bdf)) || vd_open_group(&dev, bdf)) {
		perror("vd_bench: open the ivshmem device");
		return 1;
	}
	if (vd_region_info(&dev, VD_IVSHMEM_BAR, &ri) || ri.size < 16 << 20) {
		fprintf(stderr, "vd_bench: BAR2 missing or under 16 MiB\n");
		return 1;
	}
	if (config_init()) {
		fprintf(stderr, "vd_bench: memory decode on failed\n");
		return 1;
	}
	imp = vd_importer_open();
	if (imp < 0) {
		fprintf(stderr, "vd_bench: " VD_IMPORTER_DEV ": %s\n", strerror(-imp));
		return 1;
	}
	close(imp);

	js = open_memstream(&json_buf, &json_len);
	uname(&u);
	printf("vd_bench on %s, driver %s, device %s\n", u.release, vd_env_driver(), bdf);

	clocksource(clock_before, sizeof(clock_before));
	/* first, on a quiet slab: nothing of the other phases is being freed */
	bench_memory();
	bench_baseline();
	bench_export();
	bench_attach_map();
	bench_revoke();
	bench_walks();
	bench_mmap();
	if (graph)
		bench_graph(graph);
	clocksource(clock_after, sizeof(clock_after));

	fclose(js);
	f = fopen(out, "w");
	if (!f) {
		perror(out);
		return 1;
	}
	fprintf(f, "{\n  \"kernel\": \"%s\",\n  \"driver\": \"%s\",\n  \"mainline\": %s,\n"
		"  \"quick\": %s,\n  \"failures\": %d,\n  \"clocksource\": \"%s\",\n"
		"  \"clocksource_after\": \"%s\",\n  \"rows\": {%s\n  }\n}\n",
		u.release, vd_env_driver(), vd_env_is_mainline() ? "true" : "false",
		quick ? "true" : "false", failed, clock_before, clock_after, json_buf);
	fclose(f);
	vd_close(&dev);
	printf("vd_bench: %d failure(s); results in %s\n", failed, out);
	return failed ? 1 : 0;
}
