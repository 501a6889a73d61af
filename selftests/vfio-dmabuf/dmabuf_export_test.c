// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO_DEVICE_FEATURE_DMA_BUF export: what a VMM can ask for, what it gets,
 * and the errno of every bad request. The same binary runs against our
 * driver (6.x) and mainline vfio-pci (7.x); where the two differ on purpose
 * each expectation names both, and every bad input is recorded for the
 * errno table in docs/errno-table.md.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vd_test.h"


/* What an export request holds, as VFIO_DEVICE_FEATURE_DMA_BUF takes it. */
struct request {
	uint32_t region;		/* VFIO_PCI_*_REGION_INDEX */
	uint32_t open_flags;
	uint32_t flags;
	uint32_t nr_ranges;
	int argsz_delta;		/* added to the argsz the request needs */
	bool no_ranges;			/* pass none at all, whatever nr_ranges says */
	bool on_bar;			/* region: the BAR under test */
	bool end_relative[2];		/* r[i].offset counts from the BAR's end */
	struct vfio_region_dma_range r[2];
};

/*
 * Export @req and check the outcome: errno @ours from our driver, errno
 * @mainline from mainline vfio-pci, 0 meaning "returns a dma-buf fd". The
 * outcome is recorded as the row @input of the errno table; the module's
 * reference count must come back either way.
 */
static void expect_export(struct __test_metadata *_metadata, int fd, const char *input,
			  int ours, int mainline, const struct request *req)
{
	int refs = vd_module_refcnt(vd_env_exporter_module());
	int want = vd_env_is_mainline() ? mainline : ours;
	int ret;

	ret = vd_export(fd, req->region, req->open_flags, req->flags,
			req->no_ranges ? NULL : req->r, req->nr_ranges, req->argsz_delta);
	vd_errno_row(input, ret);
	if (ret >= 0)
		close(ret);
	if (want) {
		ASSERT_EQ(-want, ret) TH_LOG("%s: %s, want %s", input, vd_strerr(ret),
					     strerrorname_np(want));
	} else {
		ASSERT_LE(0, ret) TH_LOG("%s: %s", input, vd_strerr(ret));
	}
	ASSERT_EQ(refs, vd_module_refcnt(vd_env_exporter_module()));
}

/* Exports from the device under test's BAR (ivshmem's 16 MiB BAR2 in the rig). */
FIXTURE(export) {
	struct vd_dev dev;
	uint32_t bar;
	uint64_t bar_size;
	int refs;
};

FIXTURE_SETUP(export)
{
	vd_test_open(_metadata, &self->dev);
	self->bar = vd_test_bar(_metadata, &self->dev, &self->bar_size);
	self->refs = VD_ASSERT_OK(vd_module_refcnt(vd_env_exporter_module()));
}

FIXTURE_TEARDOWN(export)
{
	vd_close(&self->dev);
}

static int export_ranges(FIXTURE_DATA(export) *self, const struct vfio_region_dma_range *r,
			 uint32_t nr, uint32_t oflags)
{
	return vd_export(self->dev.fd, self->bar, oflags, 0, r, nr, 0);
}

/* The dma-buf's size as the dma-buf core reports it. */
static long long dmabuf_size(int fd)
{
	char v[64];

	if (vd_fdinfo(fd, "size", v, sizeof(v)))
		return -1;
	return strtoll(v, NULL, 0);
}

TEST_F(export, probe_get_reports_support)
{
	VD_ASSERT_OK(vd_export_probe(self->dev.fd));
}

TEST_F(export, probe_set_is_refused)
{
	VD_ASSERT_ERR(EINVAL, vd_feature(self->dev.fd, VFIO_DEVICE_FEATURE_PROBE |
				 VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_BUF,
				 NULL, 0));
}

TEST_F(export, one_range_is_a_dmabuf)
{
	char name[64];
	int fd;

	fd = VD_ASSERT_OK(export_ranges(self, &page0, 1, O_CLOEXEC));
	ASSERT_EQ(0, vd_fdinfo(fd, "exp_name", name, sizeof(name)));
	ASSERT_STREQ(vd_env_exporter_module(), name);
	ASSERT_EQ(SZ_4K, dmabuf_size(fd));
	ASSERT_EQ(self->refs + 1, vd_module_refcnt(vd_env_exporter_module()));
	ASSERT_EQ(0, close(fd));
}

TEST_F(export, several_ranges_add_up)
{
	const struct vfio_region_dma_range r[] = {
		{ .offset = self->bar_size / 2, .length = 0x3000 },
		{ .offset = 0, .length = SZ_4K },
		{ .offset = self->bar_size - 0x10000, .length = 0x10000 },
	};
	int fd;

	if (self->bar_size < 0x20000)
		SKIP(return, "a BAR of %llu bytes: needs 128 KiB",
		     (unsigned long long)self->bar_size);

	fd = VD_ASSERT_OK(export_ranges(self, r, 3, O_CLOEXEC));
	ASSERT_EQ(0x3000 + SZ_4K + 0x10000, dmabuf_size(fd));
	ASSERT_EQ(0, close(fd));
}

TEST_F(export, whole_bar)
{
	const struct vfio_region_dma_range r = { .offset = 0, .length = self->bar_size };
	int fd;

	fd = VD_ASSERT_OK(export_ranges(self, &r, 1, O_CLOEXEC));
	ASSERT_EQ(self->bar_size, dmabuf_size(fd));
	ASSERT_EQ(0, close(fd));
}

/* Decided: ranges may overlap. A BAR page seen twice is only an alias. */
TEST_F(export, overlapping_ranges_are_allowed)
{
	const struct vfio_region_dma_range r[] = {
		{ .offset = 0, .length = 0x2000 },
		{ .offset = SZ_4K, .length = 0x2000 },
	};
	int fd;

	fd = VD_ASSERT_OK(export_ranges(self, r, 2, O_CLOEXEC));
	ASSERT_EQ(0x4000, dmabuf_size(fd));
	ASSERT_EQ(0, close(fd));
}

TEST_F(export, thousand_page_ranges)
{
	const uint32_t nr = 1000;
	struct vfio_region_dma_range *r = calloc(nr, sizeof(*r));
	uint32_t i;
	int fd;

	ASSERT_NE(NULL, r);
	if (self->bar_size < 2 * nr * SZ_4K)
		SKIP(free(r); return, "a BAR of %llu bytes: needs 8 MiB",
		     (unsigned long long)self->bar_size);
	for (i = 0; i < nr; i++) {
		r[i].offset = (uint64_t)(nr - 1 - i) * 2 * SZ_4K;
		r[i].length = SZ_4K;
	}
	fd = VD_ASSERT_OK(export_ranges(self, r, nr, O_CLOEXEC));
	ASSERT_EQ(nr * SZ_4K, dmabuf_size(fd));
	ASSERT_EQ(0, close(fd));
	free(r);
}

TEST_F(export, open_flags_cloexec_is_honoured)
{
	int fd;

	fd = VD_ASSERT_OK(export_ranges(self, &page0, 1, O_CLOEXEC));
	ASSERT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(0, close(fd));
	fd = VD_ASSERT_OK(export_ranges(self, &page0, 1, 0));
	ASSERT_EQ(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(0, close(fd));
}

TEST_F(export, open_flags_access_mode_is_honoured)
{
	int fd;

	fd = VD_ASSERT_OK(export_ranges(self, &page0, 1, O_RDWR | O_CLOEXEC));
	ASSERT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);
	ASSERT_EQ(0, close(fd));
	fd = VD_ASSERT_OK(export_ranges(self, &page0, 1, O_RDONLY | O_CLOEXEC));
	ASSERT_EQ(O_RDONLY, fcntl(fd, F_GETFL) & O_ACCMODE);
	ASSERT_EQ(0, close(fd));
}

TEST_F(export, close_returns_the_module_reference)
{
	int fd[4], i;

	for (i = 0; i < 4; i++) {
		fd[i] = export_ranges(self, &page0, 1, O_CLOEXEC);
		ASSERT_LE(0, fd[i]);
	}
	ASSERT_EQ(self->refs + 4, vd_module_refcnt(vd_env_exporter_module()));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, close(fd[i]));
	ASSERT_EQ(self->refs, vd_module_refcnt(vd_env_exporter_module()));
}

/*
 * Closing the VFIO device detaches its dma-bufs (revoked for good) instead of
 * waiting for them: the dma-buf stays a valid file, and the device can be
 * opened again at once. Counted with the device closed, since an open device
 * holds a reference on its driver's module, which for us is the exporter.
 */
TEST_F(export, dmabuf_outlives_the_device_fd)
{
	char bdf[32], name[64];
	int base, fd;

	snprintf(bdf, sizeof(bdf), "%s", self->dev.bdf);
	vd_close(&self->dev);
	base = vd_module_refcnt(vd_env_exporter_module());
	ASSERT_EQ(0, vd_open_group(&self->dev, bdf));
	fd = VD_ASSERT_OK(export_ranges(self, &page0, 1, O_CLOEXEC));
	vd_close(&self->dev);
	ASSERT_EQ(0, vd_fdinfo(fd, "exp_name", name, sizeof(name)));
	ASSERT_EQ(base + 1, vd_module_refcnt(vd_env_exporter_module()));
	ASSERT_EQ(0, vd_open_group(&self->dev, bdf));
	ASSERT_EQ(0, close(fd));
	vd_close(&self->dev);
	ASSERT_EQ(base, vd_module_refcnt(vd_env_exporter_module()));
	ASSERT_EQ(0, vd_open_group(&self->dev, bdf));
}

/*
 * Bad input: one variant per row of the errno table, in its order. @ours
 * and @mainline are the errno each driver gives (0: a dma-buf fd). Ranges
 * are in the BAR under test (ivshmem's 16 MiB BAR2 in the rig) unless a row
 * names another region; the rows that need ivshmem's layout of BARs run in
 * the rig only.
 */
#define PAGE0		{ .offset = 0, .length = SZ_4K }
#define WRAPS		{ .offset = ~0ULL & ~(SZ_4K - 1), .length = SZ_4K }
#define PAST_BAR	{ .offset = 0, .length = SZ_4K }	/* from the BAR's end */
#define EMPTY		{ .offset = 0, .length = 0 }
#define BAR(...)	{ .on_bar = true, .open_flags = O_CLOEXEC, __VA_ARGS__ }
#define REGION(n)	{ .region = (n), .open_flags = O_CLOEXEC, .nr_ranges = 1, .r = { PAGE0 } }

FIXTURE(bad_input) {
	struct vd_dev dev;
	uint32_t bar;
	uint64_t bar_size;
};

FIXTURE_VARIANT(bad_input) {
	const char *input;	/* the row of the errno table */
	int ours, mainline;
	struct request req;
	bool rig_only;		/* needs ivshmem's BAR layout */
};

FIXTURE_VARIANT_ADD(bad_input, nr_ranges_zero) {
	.input = "nr_ranges = 0", .ours = EINVAL, .mainline = EINVAL,
	.req = BAR(.nr_ranges = 0, .r = { PAGE0 }),
};

FIXTURE_VARIANT_ADD(bad_input, flags_nonzero) {
	.input = "flags != 0", .ours = EINVAL, .mainline = EINVAL,
	.req = BAR(.flags = 1, .nr_ranges = 1, .r = { PAGE0 }),
};

/* Ours refuses open flags a dma-buf fd cannot take; mainline ignores them. */
FIXTURE_VARIANT_ADD(bad_input, open_flags_unknown) {
	.input = "open_flags has O_APPEND", .ours = EINVAL, .mainline = 0,
	.req = { .on_bar = true, .open_flags = O_CLOEXEC | O_APPEND,
		 .nr_ranges = 1, .r = { PAGE0 } },
};

FIXTURE_VARIANT_ADD(bad_input, region_rom) {
	.input = "region = ROM", .ours = ENODEV, .mainline = ENODEV,
	.req = REGION(VFIO_PCI_ROM_REGION_INDEX),
};

FIXTURE_VARIANT_ADD(bad_input, region_config) {
	.input = "region = config space", .ours = ENODEV, .mainline = ENODEV,
	.req = REGION(VFIO_PCI_CONFIG_REGION_INDEX),
};

FIXTURE_VARIANT_ADD(bad_input, region_vga) {
	.input = "region = VGA", .ours = ENODEV, .mainline = ENODEV,
	.req = REGION(VFIO_PCI_VGA_REGION_INDEX),
};

FIXTURE_VARIANT_ADD(bad_input, region_past_last) {
	.input = "region = 0xffffffff", .ours = ENODEV, .mainline = ENODEV,
	.req = REGION(0xffffffff),
};

FIXTURE_VARIANT_ADD(bad_input, region_empty_bar) {
	.input = "region = empty BAR", .ours = ENODEV, .mainline = ENODEV,
	.req = REGION(VFIO_PCI_BAR1_REGION_INDEX),
	.rig_only = true,
};

FIXTURE_VARIANT_ADD(bad_input, region_upper_half_of_64bit_bar) {
	.input = "region = upper half of a 64-bit BAR", .ours = ENODEV, .mainline = ENODEV,
	.req = REGION(VFIO_PCI_BAR3_REGION_INDEX),
	.rig_only = true,
};

/* ivshmem's BAR0 is 256 bytes: no page of it can be exported. */
FIXTURE_VARIANT_ADD(bad_input, bar_smaller_than_a_page) {
	.input = "BAR smaller than a page", .ours = EINVAL, .mainline = EINVAL,
	.req = REGION(VFIO_PCI_BAR0_REGION_INDEX),
	.rig_only = true,
};

FIXTURE_VARIANT_ADD(bad_input, zero_length) {
	.input = "length = 0", .ours = EINVAL, .mainline = EINVAL,
	.req = BAR(.nr_ranges = 1, .r = { EMPTY }),
};

FIXTURE_VARIANT_ADD(bad_input, unaligned_offset) {
	.input = "offset not page aligned", .ours = EINVAL, .mainline = EINVAL,
	.req = BAR(.nr_ranges = 1, .r = { { .offset = 0x800, .length = SZ_4K } }),
};

FIXTURE_VARIANT_ADD(bad_input, unaligned_length) {
	.input = "length not page aligned", .ours = EINVAL, .mainline = EINVAL,
	.req = BAR(.nr_ranges = 1, .r = { { .offset = 0, .length = 0x1800 } }),
};

FIXTURE_VARIANT_ADD(bad_input, range_past_bar_end) {
	.input = "range ends past the BAR", .ours = EINVAL, .mainline = EINVAL,
	.req = BAR(.nr_ranges = 1, .end_relative = { true },
		   .r = { { .offset = -SZ_4K, .length = 2 * SZ_4K } }),
};

FIXTURE_VARIANT_ADD(bad_input, offset_at_bar_end) {
	.input = "offset = BAR size", .ours = EINVAL, .mainline = EINVAL,
	.req = BAR(.nr_ranges = 1, .end_relative = { true }, .r = { PAST_BAR }),
};

FIXTURE_VARIANT_ADD(bad_input, offset_plus_length_overflows) {
	.input = "offset + length overflows", .ours = EOVERFLOW, .mainline = EOVERFLOW,
	.req = BAR(.nr_ranges = 1, .r = { WRAPS }),
};

/* argsz covers less than the fixed header */
FIXTURE_VARIANT_ADD(bad_input, argsz_below_header) {
	.input = "argsz < header", .ours = EINVAL, .mainline = EINVAL,
	.req = BAR(.nr_ranges = 1, .argsz_delta = -20, .r = { PAGE0 }),
};

/*
 * nr_ranges says 2, argsz has room for 1. Ours reads nothing past argsz;
 * mainline reads nr_ranges entries whatever argsz says.
 */
FIXTURE_VARIANT_ADD(bad_input, argsz_short_of_ranges) {
	.input = "argsz < header + nr_ranges * 16", .ours = EINVAL, .mainline = 0,
	.req = BAR(.nr_ranges = 2, .argsz_delta = -16, .r = { PAGE0, PAGE0 }),
};

FIXTURE_VARIANT_ADD(bad_input, huge_nr_ranges) {
	.input = "nr_ranges = 1 << 31", .ours = EINVAL, .mainline = ENOMEM,
	.req = BAR(.nr_ranges = 1U << 31, .no_ranges = true),
};

/*
 * Requests wrong in two ways get the errno mainline gives: the header first,
 * then the region, then the shape of every range, then where each lies.
 */
FIXTURE_VARIANT_ADD(bad_input, nr_ranges_zero_and_region_rom) {
	.input = "nr_ranges = 0 and region = ROM", .ours = EINVAL, .mainline = EINVAL,
	.req = { .region = VFIO_PCI_ROM_REGION_INDEX, .open_flags = O_CLOEXEC,
		 .nr_ranges = 0, .r = { PAGE0 } },
};

FIXTURE_VARIANT_ADD(bad_input, empty_bar_and_zero_length) {
	.input = "region = empty BAR and length = 0", .ours = ENODEV, .mainline = ENODEV,
	.req = { .region = VFIO_PCI_BAR1_REGION_INDEX, .open_flags = O_CLOEXEC,
		 .nr_ranges = 1, .r = { EMPTY } },
	.rig_only = true,
};

FIXTURE_VARIANT_ADD(bad_input, first_range_wraps_second_has_zero_length) {
	.input = "range 1 wraps, range 2 has length 0", .ours = EINVAL, .mainline = EINVAL,
	.req = BAR(.nr_ranges = 2, .r = { WRAPS, EMPTY }),
};

FIXTURE_VARIANT_ADD(bad_input, first_range_wraps_second_past_bar) {
	.input = "range 1 wraps, range 2 past the BAR", .ours = EOVERFLOW, .mainline = EOVERFLOW,
	.req = BAR(.nr_ranges = 2, .end_relative = { false, true }, .r = { WRAPS, PAST_BAR }),
};

FIXTURE_VARIANT_ADD(bad_input, first_range_past_bar_second_wraps) {
	.input = "range 1 past the BAR, range 2 wraps", .ours = EINVAL, .mainline = EINVAL,
	.req = BAR(.nr_ranges = 2, .end_relative = { true }, .r = { PAST_BAR, WRAPS }),
};

FIXTURE_SETUP(bad_input)
{
	vd_test_open(_metadata, &self->dev);
	self->bar = vd_test_bar(_metadata, &self->dev, &self->bar_size);
}

FIXTURE_TEARDOWN(bad_input)
{
	vd_close(&self->dev);
}

TEST_F(bad_input, gets_the_tables_errno)
{
	struct request req = variant->req;
	unsigned int i;

	if (variant->rig_only)
		VD_NEED_RIG("ivshmem (its BAR layout)");
	if (req.on_bar)
		req.region = self->bar;
	for (i = 0; i < 2; i++)
		if (req.end_relative[i])
			req.r[i].offset += self->bar_size;
	expect_export(_metadata, self->dev.fd, variant->input, variant->ours,
		      variant->mainline, &req);
}

/*
 * What fcntl(F_GETFL) returns may be passed back as it is: on 64-bit it
 * includes the kernel's O_LARGEFILE, which glibc defines as 0 there.
 */
TEST_F(export, open_flags_as_f_getfl_reports)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int fl = fcntl(null, F_GETFL);
	struct request req = { .region = self->bar, .nr_ranges = 1, .r = { PAGE0 } };

	ASSERT_LE(0, fl);
	close(null);
	ASSERT_EQ(O_RDWR, fl & O_ACCMODE);
	ASSERT_NE(0, fl & ~O_ACCMODE) TH_LOG("F_GETFL shows no O_LARGEFILE: %#x", fl);
	req.open_flags = fl;
	expect_export(_metadata, self->dev.fd, "open_flags = F_GETFL of an O_RDWR file (O_LARGEFILE)",
		      0, 0, &req);
}

TEST_F(export, set_instead_of_get)
{
	struct vfio_device_feature_dma_buf db = { .region_index = self->bar };
	int refs = vd_module_refcnt(vd_env_exporter_module());
	int ret;

	ret = vd_feature(self->dev.fd, VFIO_DEVICE_FEATURE_SET |
			 VFIO_DEVICE_FEATURE_DMA_BUF, &db, sizeof(db));
	vd_errno_row("SET instead of GET", ret);
	VD_ASSERT_ERR(EINVAL, ret);
	ASSERT_EQ(refs, vd_module_refcnt(vd_env_exporter_module()));
}

/* An I/O port BAR has no MMIO to hand out (pci-testdev's BAR1). */
FIXTURE(export_io) {
	struct vd_dev dev;
};

FIXTURE_SETUP(export_io)
{
	const char *bdf = getenv("VD_IO_BDF");

	VD_NEED_RIG("pci-testdev");
	ASSERT_NE(NULL, bdf) TH_LOG("the rig binds pci-testdev and sets VD_IO_BDF");
	ASSERT_EQ(0, vd_open_group(&self->dev, bdf))
		TH_LOG("open %s: %s failed", bdf, self->dev.step);
}

FIXTURE_TEARDOWN(export_io)
{
	vd_close(&self->dev);
}

TEST_F(export_io, region_io_port_bar)
{
	struct vfio_region_info ri;

	ASSERT_EQ(0, vd_region_info(&self->dev, VFIO_PCI_BAR1_REGION_INDEX, &ri));
	ASSERT_NE(0, ri.size) TH_LOG("pci-testdev's BAR1 should be its I/O BAR");
	expect_export(_metadata, self->dev.fd, "region = I/O port BAR", EINVAL, EINVAL,
		      &(struct request)REGION(VFIO_PCI_BAR1_REGION_INDEX));
}

TEST_F(export_io, io_port_bar_and_zero_length)
{
	const struct request req = {
		.region = VFIO_PCI_BAR1_REGION_INDEX, .open_flags = O_CLOEXEC,
		.nr_ranges = 1, .r = { EMPTY },
	};

	expect_export(_metadata, self->dev.fd, "region = I/O port BAR and length = 0",
		      EINVAL, EINVAL, &req);
}

TEST_HARNESS_MAIN
