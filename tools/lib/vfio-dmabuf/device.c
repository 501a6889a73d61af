// SPDX-License-Identifier: GPL-2.0-only
/* libvfio-dmabuf: open a VFIO device, its regions and config space. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/pci_regs.h>

#include <vfio-dmabuf/vd.h>

static void dev_init(struct vd_dev *d, const char *bdf)
{
	*d = (struct vd_dev){ .container = -1, .group = -1, .iommufd = -1, .fd = -1 };
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
}

/* Record the failed @step, close what is open, return -@err. */
static int dev_fail(struct vd_dev *d, const char *step, int err)
{
	vd_close(d);
	d->step = step;
	return -err;
}

int vd_open_group(struct vd_dev *d, const char *bdf)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];
	int group;

	dev_init(d, bdf);
	group = vd_iommu_group(bdf);
	if (group < 0)
		return dev_fail(d, "iommu_group", -group);
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	d->group = open(path, O_RDWR | O_CLOEXEC);
	if (d->group < 0)
		return dev_fail(d, "open /dev/vfio/<group>", errno);
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &st))
		return dev_fail(d, "VFIO_GROUP_GET_STATUS", errno);
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE))
		return dev_fail(d, "group viable", EBUSY);
	d->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container < 0)
		return dev_fail(d, "open /dev/vfio/vfio", errno);
	if (ioctl(d->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return dev_fail(d, "VFIO_GET_API_VERSION", EPROTO);
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container))
		return dev_fail(d, "VFIO_GROUP_SET_CONTAINER", errno);
	if (ioctl(d->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return dev_fail(d, "VFIO_SET_IOMMU", errno);
	d->fd = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (d->fd < 0)
		return dev_fail(d, "VFIO_GROUP_GET_DEVICE_FD", errno);
	return 0;
}

/*
 * The cdev uAPI of 6.6+, spelled out: the 6.1 headers userspace builds
 * against here lack it (and 7.x grew the structs, which argsz tells apart).
 */
struct vd_cdev_bind {
	uint32_t argsz, flags;
	int32_t iommufd;
	uint32_t out_devid;
};

#define VD_CDEV_BIND_IOMMUFD	_IO(VFIO_TYPE, VFIO_BASE + 18)

struct vd_cdev_attach_pt {
	uint32_t argsz, flags, pt_id;
};

#define VD_CDEV_ATTACH_IOMMUFD_PT	_IO(VFIO_TYPE, VFIO_BASE + 19)

/* The name of @bdf's VFIO cdev (vfioN) into @name. */
static int cdev_name(const char *bdf, char *name, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de;
	int ret = -ENOENT;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir)))
		if (!strncmp(de->d_name, "vfio", 4)) {
			snprintf(name, len, "%s", de->d_name);
			ret = 0;
		}
	closedir(dir);
	return ret;
}

/* Open @bdf's cdev into @d->fd. */
static int cdev_open(struct vd_dev *d, const char *bdf)
{
	char name[256], path[300];
	int ret;

	dev_init(d, bdf);
	ret = cdev_name(bdf, name, sizeof(name));
	if (ret)
		return dev_fail(d, "vfio-dev in sysfs (VFIO_DEVICE_CDEV)", -ret);
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", name);
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0)
		return dev_fail(d, "open /dev/vfio/devices/vfioN", errno);
	return 0;
}

static int cdev_bind(struct vd_dev *d, int iommufd)
{
	struct vd_cdev_bind bind = { .argsz = sizeof(bind), .iommufd = iommufd };

	if (ioctl(d->fd, VD_CDEV_BIND_IOMMUFD, &bind))
		return dev_fail(d, "VFIO_DEVICE_BIND_IOMMUFD", errno);
	return 0;
}

static int cdev_attach(struct vd_dev *d, uint32_t ioas_id)
{
	struct vd_cdev_attach_pt at = { .argsz = sizeof(at), .pt_id = ioas_id };

	if (ioctl(d->fd, VD_CDEV_ATTACH_IOMMUFD_PT, &at))
		return dev_fail(d, "VFIO_DEVICE_ATTACH_IOMMUFD_PT", errno);
	return 0;
}

int vd_open_cdev(struct vd_dev *d, const char *bdf)
{
	uint32_t ioas_id;
	int ret;

	ret = cdev_open(d, bdf);
	if (ret)
		return ret;
	d->iommufd = vd_iommufd_open();
	if (d->iommufd < 0)
		return dev_fail(d, "open /dev/iommu", -d->iommufd);
	ret = cdev_bind(d, d->iommufd);
	if (ret)
		return ret;
	ret = vd_ioas_alloc(d->iommufd, &ioas_id);
	if (ret)
		return dev_fail(d, "IOMMU_IOAS_ALLOC", -ret);
	return cdev_attach(d, ioas_id);
}

int vd_open_cdev_in(struct vd_dev *d, const char *bdf, int iommufd, uint32_t ioas_id)
{
	return cdev_open(d, bdf) ?: cdev_bind(d, iommufd) ?: cdev_attach(d, ioas_id);
}

void vd_close(struct vd_dev *d)
{
	int *fds[] = { &d->fd, &d->group, &d->container, &d->iommufd };
	size_t i;

	/*
	 * The device first: it holds the group and the iommufd. A zeroed
	 * struct (a test fixture that skipped before opening) holds nothing:
	 * fd 0 is stdin, never one of ours.
	 */
	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] > 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int vd_reopen_device(struct vd_dev *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	d->cfg_offset = 0;
	return d->fd < 0 ? -errno : 0;
}

int vd_region_info(struct vd_dev *d, uint32_t index, struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	return ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, ri) ? -errno : 0;
}

/* vfio-pci's config region never sits at offset 0 (it is region 7). */
static int cfg_offset(struct vd_dev *d, uint64_t *off)
{
	struct vfio_region_info ri;
	int ret;

	if (!d->cfg_offset) {
		ret = vd_region_info(d, VFIO_PCI_CONFIG_REGION_INDEX, &ri);
		if (ret)
			return ret;
		d->cfg_offset = ri.offset;
	}
	*off = d->cfg_offset;
	return 0;
}

/* One access of config space through the config region. */
static int cfg_access(struct vd_dev *d, unsigned int off, void *buf, size_t len, int write)
{
	uint64_t base;
	ssize_t n;
	int ret;

	ret = cfg_offset(d, &base);
	if (ret)
		return ret;
	n = write ? pwrite(d->fd, buf, len, base + off) : pread(d->fd, buf, len, base + off);
	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

int vd_cfg_read(struct vd_dev *d, unsigned int off, void *buf, size_t len)
{
	return cfg_access(d, off, buf, len, 0);
}

int vd_cfg_write(struct vd_dev *d, unsigned int off, const void *buf, size_t len)
{
	return cfg_access(d, off, (void *)buf, len, 1);
}

int vd_cfg_find_cap(struct vd_dev *d, uint8_t id)
{
	uint8_t pos, hdr[2];
	int ret, n = 48;	/* at most 48 capabilities fit in 256 bytes */

	ret = vd_cfg_read(d, PCI_CAPABILITY_LIST, &pos, 1);
	while (!ret && pos && n--) {
		ret = vd_cfg_read(d, pos, hdr, 2);
		if (!ret && hdr[PCI_CAP_LIST_ID] == id)
			return pos;
		pos = hdr[PCI_CAP_LIST_NEXT];
	}
	return ret ? ret : -ENOENT;
}

int vd_set_memory_enable(struct vd_dev *d, int on)
{
	uint16_t cmd;
	int ret;

	ret = vd_cfg_read(d, PCI_COMMAND, &cmd, sizeof(cmd));
	if (ret)
		return ret;
	cmd = on ? cmd | PCI_COMMAND_MEMORY : cmd & ~PCI_COMMAND_MEMORY;
	return vd_cfg_write(d, PCI_COMMAND, &cmd, sizeof(cmd));
}
