// SPDX-License-Identifier: GPL-2.0-only
/* libvfio-dmabuf: PCI devices, their drivers and IOMMU groups in sysfs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vfio-dmabuf/vd.h>

#define PCI_DEVICES	"/sys/bus/pci/devices"

static void dev_path(char *path, size_t len, const char *bdf, const char *attr)
{
	snprintf(path, len, PCI_DEVICES "/%s/%s", bdf, attr);
}

int vd_bdf_valid(const char *bdf)
{
	unsigned int d, b, s, f;
	char end;

	return strlen(bdf) == 12 &&
	       sscanf(bdf, "%4x:%2x:%2x.%1x%c", &d, &b, &s, &f, &end) == 4;
}

int vd_pci_exists(const char *bdf)
{
	char path[PATH_MAX];

	dev_path(path, sizeof(path), bdf, "");
	return vd_bdf_valid(bdf) && !access(path, F_OK);
}

static int read_hex(const char *bdf, const char *attr, unsigned int *val)
{
	char path[PATH_MAX], buf[32];
	int ret;

	dev_path(path, sizeof(path), bdf, attr);
	ret = vd_read_file(path, buf, sizeof(buf));
	if (ret)
		return ret;
	return sscanf(buf, "%x", val) == 1 ? 0 : -EINVAL;
}

int vd_pci_find(unsigned int vendor, unsigned int device, char *bdf, size_t len)
{
	struct dirent *de;
	int ret = -ENODEV;
	DIR *dir;

	dir = opendir(PCI_DEVICES);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		unsigned int v, d;

		if (de->d_name[0] == '.' || read_hex(de->d_name, "vendor", &v) ||
		    read_hex(de->d_name, "device", &d))
			continue;
		if (v == vendor && d == device) {
			snprintf(bdf, len, "%s", de->d_name);
			ret = 0;
			break;
		}
	}
	closedir(dir);
	return ret;
}

/* The last component of the symlink @path points to. */
static int link_basename(const char *path, char *name, size_t len)
{
	char target[PATH_MAX];
	const char *slash;
	ssize_t n;

	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	slash = strrchr(target, '/');
	snprintf(name, len, "%s", slash ? slash + 1 : target);
	return 0;
}

int vd_bound_driver(const char *bdf, char *name, size_t len)
{
	char path[PATH_MAX];
	int ret;

	dev_path(path, sizeof(path), bdf, "driver");
	ret = link_basename(path, name, len);
	if (ret == -ENOENT) {
		name[0] = '\0';
		return 0;
	}
	return ret;
}

int vd_iommu_group(const char *bdf)
{
	char path[PATH_MAX], group[32];
	int ret;

	dev_path(path, sizeof(path), bdf, "iommu_group");
	ret = link_basename(path, group, sizeof(group));
	return ret ? ret : atoi(group);
}

int vd_write_file(const char *path, const char *val)
{
	return vd_write_file_flags(path, val, 0);
}

int vd_write_file_flags(const char *path, const char *val, int flags)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC | flags);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int vd_read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int ret = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, len, f))
		ret = ferror(f) ? -EIO : -ENODATA;
	else
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
	return ret;
}

int vd_bind(const char *bdf, const char *driver)
{
	char path[PATH_MAX], drv[64];
	int ret;

	dev_path(path, sizeof(path), bdf, "driver_override");
	ret = vd_write_file(path, driver);
	if (ret)
		return ret;
	/* drivers_probe fails when no driver takes the device: look after */
	vd_write_file("/sys/bus/pci/drivers_probe", bdf);
	ret = vd_bound_driver(bdf, drv, sizeof(drv));
	if (ret)
		return ret;
	return strcmp(drv, driver) ? -ENODEV : 0;
}

int vd_unbind(const char *bdf)
{
	char path[PATH_MAX];

	dev_path(path, sizeof(path), bdf, "driver/unbind");
	return vd_write_file(path, bdf);
}

int vd_unoverride(const char *bdf)
{
	char path[PATH_MAX];

	/* an empty override: matching by ID table again */
	dev_path(path, sizeof(path), bdf, "driver_override");
	return vd_write_file(path, "\n");
}
