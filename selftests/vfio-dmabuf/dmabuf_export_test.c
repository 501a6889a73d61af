// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO_DEVICE_FEATURE_DMA_BUF export: what a VMM can ask for, what it gets,
 * and the errno of every bad request. The same binary runs against our
 * driver (6.x) and mainline vfio-pci (7.x); where the two differ on purpose
 * each expectation names both, and every bad input is recorded for the
 * errno table in docs/errno-table.md.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vd_lib.h"

#define SZ_4K	0x1000ULL
#define SZ_16M	(16ULL << 20)

/*
 * Export with the given arguments and check the outcome: errno @ours from
 * our driver, errno @mainline from mainline vfio-pci, 0 meaning "returns a
 * dma-buf fd". The module's reference count must come back either way.
 */
#define EXPECT_EXPORT(what, ours, mainline, fd, region, oflags, flags, r, nr, delta) do { \
	int _refs = vd_module_refcnt(vd_exporter_module());			\
	int _want = vd_is_mainline() ? (mainline) : (ours);			\
	int _ret = vd_export(fd, region, oflags, flags, r, nr, delta);		\
	int _err = errno;							\
										\
	vd_errno_row(what, _ret);						\
	if (_ret >= 0)								\
		close(_ret);							\
	if (_want) {								\
		ASSERT_EQ(-1, _ret) TH_LOG("%s: got an fd", what);		\
		ASSERT_EQ(_want, _err) TH_LOG("%s: %s, want %s", what,		\
					      strerrorname_np(_err),		\
					      strerrorname_np(_want));		\
	} else {								\
		ASSERT_LE(0, _ret) TH_LOG("%s: %s", what, strerror(_err));	\
	}									\
	ASSERT_EQ(_refs, vd_module_refcnt(vd_exporter_module()));		\
} while (0)

static const struct vfio_region_dma_range page0 = { .offset = 0, .length = SZ_4K };

FIXTURE(export) {
	struct vd_dev dev;
	int refs;
};

FIXTURE_SETUP(export)
{
	char bdf[32];

	ASSERT_EQ(0, vd_find_bdf(bdf, sizeof(bdf)));
	ASSERT_EQ(0, vd_open_group(&self->dev, bdf))
		TH_LOG("open %s: %s", bdf, strerror(errno));
	ASSERT_EQ(0, vd_set_memory_enable(&self->dev, 1));
	self->refs = vd_module_refcnt(vd_exporter_module());
	ASSERT_LE(0, self->refs);
}

FIXTURE_TEARDOWN(export)
{
	vd_close(&self->dev);
}

static int export_ranges(struct vd_dev *d, const struct vfio_region_dma_range *r,
			 uint32_t nr, uint32_t oflags)
{
	return vd_export(d->fd, VD_IVSHMEM_BAR, oflags, 0, r, nr, 0);
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
	ASSERT_EQ(0, vd_feature(self->dev.fd, VFIO_DEVICE_FEATURE_PROBE |
				VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF,
				NULL, 0)) TH_LOG("PROBE: %s", strerror(errno));
}

TEST_F(export, probe_set_is_refused)
{
	ASSERT_EQ(-1, vd_feature(self->dev.fd, VFIO_DEVICE_FEATURE_PROBE |
				 VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_BUF,
				 NULL, 0));
	ASSERT_EQ(EINVAL, errno);
}

TEST_F(export, one_range_is_a_dmabuf)
{
	char name[64];
	int fd;

	fd = export_ranges(&self->dev, &page0, 1, O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(errno));
	ASSERT_EQ(0, vd_fdinfo(fd, "exp_name", name, sizeof(name)));
	ASSERT_STREQ(vd_exporter_module(), name);
	ASSERT_EQ(SZ_4K, dmabuf_size(fd));
	ASSERT_EQ(self->refs + 1, vd_module_refcnt(vd_exporter_module()));
	ASSERT_EQ(0, close(fd));
}

TEST_F(export, several_ranges_add_up)
{
	const struct vfio_region_dma_range r[] = {
		{ .offset = 0x100000, .length = 0x3000 },
		{ .offset = 0, .length = SZ_4K },
		{ .offset = SZ_16M - 0x10000, .length = 0x10000 },
	};
	int fd;

	fd = export_ranges(&self->dev, r, 3, O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(errno));
	ASSERT_EQ(0x3000 + SZ_4K + 0x10000, dmabuf_size(fd));
	ASSERT_EQ(0, close(fd));
}

TEST_F(export, whole_bar)
{
	const struct vfio_region_dma_range r = { .offset = 0, .length = SZ_16M };
	int fd;

	fd = export_ranges(&self->dev, &r, 1, O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(errno));
	ASSERT_EQ(SZ_16M, dmabuf_size(fd));
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

	fd = export_ranges(&self->dev, r, 2, O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(errno));
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
	for (i = 0; i < nr; i++) {
		r[i].offset = (uint64_t)(nr - 1 - i) * 2 * SZ_4K;
		r[i].length = SZ_4K;
	}
	fd = export_ranges(&self->dev, r, nr, O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(errno));
	ASSERT_EQ(nr * SZ_4K, dmabuf_size(fd));
	ASSERT_EQ(0, close(fd));
	free(r);
}

TEST_F(export, open_flags_cloexec_is_honoured)
{
	int fd;

	fd = export_ranges(&self->dev, &page0, 1, O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(0, close(fd));
	fd = export_ranges(&self->dev, &page0, 1, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(0, close(fd));
}

TEST_F(export, open_flags_access_mode_is_honoured)
{
	int fd;

	fd = export_ranges(&self->dev, &page0, 1, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);
	ASSERT_EQ(0, close(fd));
	fd = export_ranges(&self->dev, &page0, 1, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(O_RDONLY, fcntl(fd, F_GETFL) & O_ACCMODE);
	ASSERT_EQ(0, close(fd));
}

TEST_F(export, close_returns_the_module_reference)
{
	int fd[4], i;

	for (i = 0; i < 4; i++) {
		fd[i] = export_ranges(&self->dev, &page0, 1, O_CLOEXEC);
		ASSERT_LE(0, fd[i]);
	}
	ASSERT_EQ(self->refs + 4, vd_module_refcnt(vd_exporter_module()));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, close(fd[i]));
	ASSERT_EQ(self->refs, vd_module_refcnt(vd_exporter_module()));
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
	base = vd_module_refcnt(vd_exporter_module());
	ASSERT_EQ(0, vd_open_group(&self->dev, bdf));
	fd = export_ranges(&self->dev, &page0, 1, O_CLOEXEC);
	ASSERT_LE(0, fd);
	vd_close(&self->dev);
	ASSERT_EQ(0, vd_fdinfo(fd, "exp_name", name, sizeof(name)));
	ASSERT_EQ(base + 1, vd_module_refcnt(vd_exporter_module()));
	ASSERT_EQ(0, vd_open_group(&self->dev, bdf));
	ASSERT_EQ(0, close(fd));
	vd_close(&self->dev);
	ASSERT_EQ(base, vd_module_refcnt(vd_exporter_module()));
	ASSERT_EQ(0, vd_open_group(&self->dev, bdf));
}

/* Bad input: one test per row of the errno table. */

TEST_F(export, nr_ranges_zero)
{
	EXPECT_EXPORT("nr_ranges = 0", EINVAL, EINVAL, self->dev.fd,
		      VD_IVSHMEM_BAR, O_CLOEXEC, 0, &page0, 0, 0);
}

TEST_F(export, flags_nonzero)
{
	EXPECT_EXPORT("flags != 0", EINVAL, EINVAL, self->dev.fd,
		      VD_IVSHMEM_BAR, O_CLOEXEC, 1, &page0, 1, 0);
}

/* Ours refuses open flags a dma-buf fd cannot take; mainline ignores them. */
TEST_F(export, open_flags_unknown)
{
	EXPECT_EXPORT("open_flags has O_APPEND", EINVAL, 0, self->dev.fd,
		      VD_IVSHMEM_BAR, O_CLOEXEC | O_APPEND, 0, &page0, 1, 0);
}

/*
 * What fcntl(F_GETFL) returns may be passed back as it is: on 64-bit it
 * includes the kernel's O_LARGEFILE, which glibc defines as 0 there.
 */
TEST_F(export, open_flags_as_f_getfl_reports)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int fl = fcntl(null, F_GETFL);

	ASSERT_LE(0, fl);
	close(null);
	ASSERT_EQ(O_RDWR, fl & O_ACCMODE);
	ASSERT_NE(0, fl & ~O_ACCMODE) TH_LOG("F_GETFL shows no O_LARGEFILE: %#x", fl);
	EXPECT_EXPORT("open_flags = F_GETFL of an O_RDWR file (O_LARGEFILE)", 0, 0,
		      self->dev.fd, VD_IVSHMEM_BAR, fl, 0, &page0, 1, 0);
}

TEST_F(export, region_rom)
{
	EXPECT_EXPORT("region = ROM", ENODEV, ENODEV, self->dev.fd,
		      VFIO_PCI_ROM_REGION_INDEX, O_CLOEXEC, 0, &page0, 1, 0);
}

TEST_F(export, region_config)
{
	EXPECT_EXPORT("region = config space", ENODEV, ENODEV, self->dev.fd,
		      VFIO_PCI_CONFIG_REGION_INDEX, O_CLOEXEC, 0, &page0, 1, 0);
}

TEST_F(export, region_vga)
{
	EXPECT_EXPORT("region = VGA", ENODEV, ENODEV, self->dev.fd,
		      VFIO_PCI_VGA_REGION_INDEX, O_CLOEXEC, 0, &page0, 1, 0);
}

TEST_F(export, region_past_last)
{
	EXPECT_EXPORT("region = 0xffffffff", ENODEV, ENODEV, self->dev.fd,
		      0xffffffff, O_CLOEXEC, 0, &page0, 1, 0);
}

TEST_F(export, region_empty_bar)
{
	EXPECT_EXPORT("region = empty BAR", ENODEV, ENODEV, self->dev.fd,
		      VFIO_PCI_BAR1_REGION_INDEX, O_CLOEXEC, 0, &page0, 1, 0);
}

TEST_F(export, region_upper_half_of_64bit_bar)
{
	EXPECT_EXPORT("region = upper half of a 64-bit BAR", ENODEV, ENODEV,
		      self->dev.fd, VFIO_PCI_BAR3_REGION_INDEX, O_CLOEXEC, 0,
		      &page0, 1, 0);
}

/* ivshmem's BAR0 is 256 bytes: no page of it can be exported. */
TEST_F(export, bar_smaller_than_a_page)
{
	EXPECT_EXPORT("BAR smaller than a page", EINVAL, EINVAL, self->dev.fd,
		      VFIO_PCI_BAR0_REGION_INDEX, O_CLOEXEC, 0, &page0, 1, 0);
}

TEST_F(export, zero_length)
{
	const struct vfio_region_dma_range r = { .offset = 0, .length = 0 };

	EXPECT_EXPORT("length = 0", EINVAL, EINVAL, self->dev.fd,
		      VD_IVSHMEM_BAR, O_CLOEXEC, 0, &r, 1, 0);
}

TEST_F(export, unaligned_offset)
{
	const struct vfio_region_dma_range r = { .offset = 0x800, .length = SZ_4K };

	EXPECT_EXPORT("offset not page aligned", EINVAL, EINVAL, self->dev.fd,
		      VD_IVSHMEM_BAR, O_CLOEXEC, 0, &r, 1, 0);
}

TEST_F(export, unaligned_length)
{
	const struct vfio_region_dma_range r = { .offset = 0, .length = 0x1800 };

	EXPECT_EXPORT("length not page aligned", EINVAL, EINVAL, self->dev.fd,
		      VD_IVSHMEM_BAR, O_CLOEXEC, 0, &r, 1, 0);
}

TEST_F(export, range_past_bar_end)
{
	const struct vfio_region_dma_range r = {
		.offset = SZ_16M - SZ_4K, .length = 2 * SZ_4K,
	};

	EXPECT_EXPORT("range ends past the BAR", EINVAL, EINVAL, self->dev.fd,
		      VD_IVSHMEM_BAR, O_CLOEXEC, 0, &r, 1, 0);
}

TEST_F(export, offset_at_bar_end)
{
	const struct vfio_region_dma_range r = { .offset = SZ_16M, .length = SZ_4K };

	EXPECT_EXPORT("offset = BAR size", EINVAL, EINVAL, self->dev.fd,
		      VD_IVSHMEM_BAR, O_CLOEXEC, 0, &r, 1, 0);
}

TEST_F(export, offset_plus_length_overflows)
{
	const struct vfio_region_dma_range r = {
		.offset = ~0ULL & ~(SZ_4K - 1), .length = SZ_4K,
	};

	EXPECT_EXPORT("offset + length overflows", EOVERFLOW, EOVERFLOW,
		      self->dev.fd, VD_IVSHMEM_BAR, O_CLOEXEC, 0, &r, 1, 0);
}

/* argsz covers less than the fixed header */
TEST_F(export, argsz_below_header)
{
	EXPECT_EXPORT("argsz < header", EINVAL, EINVAL, self->dev.fd,
		      VD_IVSHMEM_BAR, O_CLOEXEC, 0, &page0, 1, -20);
}

/*
 * nr_ranges says 2, argsz has room for 1. Ours reads nothing past argsz;
 * mainline reads nr_ranges entries whatever argsz says.
 */
TEST_F(export, argsz_short_of_ranges)
{
	const struct vfio_region_dma_range r[2] = { page0, page0 };

	EXPECT_EXPORT("argsz < header + nr_ranges * 16", EINVAL, 0, self->dev.fd,
		      VD_IVSHMEM_BAR, O_CLOEXEC, 0, r, 2, -16);
}

TEST_F(export, huge_nr_ranges)
{
	EXPECT_EXPORT("nr_ranges = 1 << 31", EINVAL, ENOMEM, self->dev.fd,
		      VD_IVSHMEM_BAR, O_CLOEXEC, 0, NULL, 1U << 31, 0);
}

/*
 * Requests wrong in two ways get the errno mainline gives: the header first,
 * then the region, then the shape of every range, then where each lies.
 */
TEST_F(export, nr_ranges_zero_and_region_rom)
{
	EXPECT_EXPORT("nr_ranges = 0 and region = ROM", EINVAL, EINVAL,
		      self->dev.fd, VFIO_PCI_ROM_REGION_INDEX, O_CLOEXEC, 0,
		      &page0, 0, 0);
}

TEST_F(export, empty_bar_and_zero_length)
{
	const struct vfio_region_dma_range r = { .offset = 0, .length = 0 };

	EXPECT_EXPORT("region = empty BAR and length = 0", ENODEV, ENODEV,
		      self->dev.fd, VFIO_PCI_BAR1_REGION_INDEX, O_CLOEXEC, 0,
		      &r, 1, 0);
}

TEST_F(export, first_range_wraps_second_has_zero_length)
{
	const struct vfio_region_dma_range r[] = {
		{ .offset = ~0ULL & ~(SZ_4K - 1), .length = SZ_4K },
		{ .offset = 0, .length = 0 },
	};

	EXPECT_EXPORT("range 1 wraps, range 2 has length 0", EINVAL, EINVAL,
		      self->dev.fd, VD_IVSHMEM_BAR, O_CLOEXEC, 0, r, 2, 0);
}

TEST_F(export, first_range_wraps_second_past_bar)
{
	const struct vfio_region_dma_range r[] = {
		{ .offset = ~0ULL & ~(SZ_4K - 1), .length = SZ_4K },
		{ .offset = SZ_16M, .length = SZ_4K },
	};

	EXPECT_EXPORT("range 1 wraps, range 2 past the BAR", EOVERFLOW, EOVERFLOW,
		      self->dev.fd, VD_IVSHMEM_BAR, O_CLOEXEC, 0, r, 2, 0);
}

TEST_F(export, first_range_past_bar_second_wraps)
{
	const struct vfio_region_dma_range r[] = {
		{ .offset = SZ_16M, .length = SZ_4K },
		{ .offset = ~0ULL & ~(SZ_4K - 1), .length = SZ_4K },
	};

	EXPECT_EXPORT("range 1 past the BAR, range 2 wraps", EINVAL, EINVAL,
		      self->dev.fd, VD_IVSHMEM_BAR, O_CLOEXEC, 0, r, 2, 0);
}

TEST_F(export, set_instead_of_get)
{
	struct vfio_device_feature_dma_buf db = { .region_index = VD_IVSHMEM_BAR };
	int refs = vd_module_refcnt(vd_exporter_module());
	int ret;

	ret = vd_feature(self->dev.fd, VFIO_DEVICE_FEATURE_SET |
			 VFIO_DEVICE_FEATURE_DMA_BUF, &db, sizeof(db));
	vd_errno_row("SET instead of GET", ret);
	ASSERT_EQ(-1, ret);
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(refs, vd_module_refcnt(vd_exporter_module()));
}

/* An I/O port BAR has no MMIO to hand out (pci-testdev's BAR1). */
FIXTURE(export_io) {
	struct vd_dev dev;
};

FIXTURE_SETUP(export_io)
{
	const char *bdf = getenv("VD_IO_BDF");

	ASSERT_NE(NULL, bdf) TH_LOG("the rig binds pci-testdev and sets VD_IO_BDF");
	ASSERT_EQ(0, vd_open_group(&self->dev, bdf))
		TH_LOG("open %s: %s", bdf, strerror(errno));
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
	EXPECT_EXPORT("region = I/O port BAR", EINVAL, EINVAL, self->dev.fd,
		      VFIO_PCI_BAR1_REGION_INDEX, O_CLOEXEC, 0, &page0, 1, 0);
}

TEST_F(export_io, io_port_bar_and_zero_length)
{
	const struct vfio_region_dma_range r = { .offset = 0, .length = 0 };

	EXPECT_EXPORT("region = I/O port BAR and length = 0", EINVAL, EINVAL,
		      self->dev.fd, VFIO_PCI_BAR1_REGION_INDEX, O_CLOEXEC, 0,
		      &r, 1, 0);
}

TEST_HARNESS_MAIN
