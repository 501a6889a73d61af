// SPDX-License-Identifier: GPL-2.0-only
/*
 * The device bound to the driver under test behaves like any vfio-pci
 * device: group/container open, region info, config space, BAR mmap whose
 * writes reach the device (the host checks the ivshmem backing file).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vd_test.h"

FIXTURE(vfio_group) {
	struct vd_dev dev;
};

FIXTURE_SETUP(vfio_group)
{
	char bdf[VD_BDF_LEN];

	VD_ASSERT_OK(vd_env_bdf(bdf, sizeof(bdf)));
	ASSERT_EQ(0, vd_open_group(&self->dev, bdf))
		TH_LOG("open %s through its group: %s failed", bdf, self->dev.step);
}

FIXTURE_TEARDOWN(vfio_group)
{
	vd_close(&self->dev);
}

TEST_F(vfio_group, bound_to_driver_under_test)
{
	char drv[64];

	ASSERT_EQ(0, vd_bound_driver(self->dev.bdf, drv, sizeof(drv)));
	ASSERT_STREQ(vd_env_driver(), drv);
}

TEST_F(vfio_group, device_info_is_pci)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };

	ASSERT_EQ(0, ioctl(self->dev.fd, VFIO_DEVICE_GET_INFO, &info))
		TH_LOG("GET_INFO: %s", strerror(errno));
	ASSERT_TRUE(info.flags & VFIO_DEVICE_FLAGS_PCI);
	ASSERT_EQ(VFIO_PCI_NUM_REGIONS, info.num_regions);
}

TEST_F(vfio_group, config_space_has_ivshmem_ids)
{
	struct vfio_region_info ri;
	uint16_t ids[2];

	VD_NEED_RIG("ivshmem");
	ASSERT_EQ(0, vd_region_info(&self->dev, VFIO_PCI_CONFIG_REGION_INDEX, &ri));
	ASSERT_EQ(sizeof(ids), pread(self->dev.fd, ids, sizeof(ids), ri.offset));
	ASSERT_EQ(0x1af4, ids[0]);
	ASSERT_EQ(0x1110, ids[1]);
}

TEST_F(vfio_group, bar2_region_is_mmappable)
{
	struct vfio_region_info ri;
	uint32_t want = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
			VFIO_REGION_INFO_FLAG_MMAP;

	VD_NEED_RIG("ivshmem");
	ASSERT_EQ(0, vd_region_info(&self->dev, VD_IVSHMEM_BAR, &ri));
	ASSERT_EQ(want, ri.flags & want);
	ASSERT_EQ(16 << 20, ri.size);
}

TEST_F(vfio_group, bar2_mmap_write_reaches_host)
{
	const uint64_t off = 0x10000, len = 0x20000;
	const uint32_t seed = 0x2a2a0001;
	struct vfio_region_info ri;
	unsigned char *bar, *want;

	VD_NEED_RIG("ivshmem and its backing file");
	ASSERT_EQ(0, vd_region_info(&self->dev, VD_IVSHMEM_BAR, &ri));
	bar = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->dev.fd, ri.offset);
	ASSERT_NE(MAP_FAILED, bar) TH_LOG("mmap BAR2: %s", strerror(errno));
	want = malloc(len);
	ASSERT_NE(NULL, want);
	vd_pattern(want, len, seed);
	memcpy(bar + off, want, len);
	ASSERT_EQ(0, memcmp(bar + off, want, len));
	ASSERT_EQ(0, vd_host_expect("bar2_mmap_write", off, len, seed));
	free(want);
	ASSERT_EQ(0, munmap(bar, ri.size));
}

TEST_F(vfio_group, bar2_pwrite_reaches_host)
{
	const uint64_t off = 0x40000, len = 0x1000;
	const uint32_t seed = 0x2a2a0002;
	struct vfio_region_info ri;
	unsigned char buf[0x1000], back[0x1000];

	VD_NEED_RIG("ivshmem and its backing file");
	ASSERT_EQ(0, vd_region_info(&self->dev, VD_IVSHMEM_BAR, &ri));
	vd_pattern(buf, len, seed);
	ASSERT_EQ(len, pwrite(self->dev.fd, buf, len, ri.offset + off));
	ASSERT_EQ(len, pread(self->dev.fd, back, len, ri.offset + off));
	ASSERT_EQ(0, memcmp(buf, back, len));
	ASSERT_EQ(0, vd_host_expect("bar2_pwrite", off, len, seed));
}

TEST_F(vfio_group, reset_matches_reported_capability)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	int ret;

	ASSERT_EQ(0, ioctl(self->dev.fd, VFIO_DEVICE_GET_INFO, &info));
	ret = ioctl(self->dev.fd, VFIO_DEVICE_RESET);
	if (info.flags & VFIO_DEVICE_FLAGS_RESET) {
		ASSERT_EQ(0, ret) TH_LOG("RESET: %s", strerror(errno));
	} else {
		ASSERT_EQ(-1, ret);
		ASSERT_EQ(EINVAL, errno);
	}
}

TEST(second_open_of_group_is_refused)
{
	struct vd_dev a, b;
	char bdf[32];

	ASSERT_EQ(0, vd_env_bdf(bdf, sizeof(bdf)));
	ASSERT_EQ(0, vd_open_group(&a, bdf));
	ASSERT_EQ(-EBUSY, vd_open_group(&b, bdf));
	vd_close(&a);
	/* and the device is usable again once the first user is gone */
	ASSERT_EQ(0, vd_open_group(&b, bdf));
	vd_close(&b);
}

/*
 * The cdev path: /dev/vfio/devices/vfioN bound to an iommufd, as a VMM on a
 * kernel with IOMMUFD opens it. Only self-built kernels in the rig have
 * IOMMUFD (the debug kernel); Debian's 6.1, 6.12 and 7.x do not.
 */
TEST(cdev_with_iommufd_exports)
{
	const struct vfio_region_dma_range r = { 0, 0x1000 };
	struct vd_dev d;
	char bdf[VD_BDF_LEN];
	int fd;

	if (access("/dev/iommu", F_OK))
		SKIP(return, "no /dev/iommu: this kernel has no IOMMUFD (Debian's have none)");
	VD_ASSERT_OK(vd_env_bdf(bdf, sizeof(bdf)));
	ASSERT_EQ(0, vd_open_cdev(&d, bdf)) TH_LOG("open %s: %s failed", bdf, d.step);
	fd = VD_ASSERT_OK(vd_export(d.fd, vd_test_bar(_metadata, &d, NULL), O_CLOEXEC, 0, &r, 1, 0));
	close(fd);
	vd_close(&d);
}

TEST_HARNESS_MAIN
