// SPDX-License-Identifier: GPL-2.0-only
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "vd_lib.h"
#include "vd_test_importer.h"

#define PCI_DEVICES "/sys/bus/pci/devices"

static int read_hex(const char *bdf, const char *attr, unsigned int *val)
{
	char path[PATH_MAX];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/%s", bdf, attr);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	n = fscanf(f, "%x", val);
	fclose(f);
	return n == 1 ? 0 : -EINVAL;
}

int vd_find_bdf(char *bdf, size_t len)
{
	const char *env = getenv("VD_BDF");
	struct dirent *de;
	DIR *dir;
	int ret = -ENODEV;

	if (env && *env) {
		snprintf(bdf, len, "%s", env);
		return 0;
	}
	dir = opendir(PCI_DEVICES);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		unsigned int vendor, device;

		if (de->d_name[0] == '.')
			continue;
		if (read_hex(de->d_name, "vendor", &vendor) ||
		    read_hex(de->d_name, "device", &device))
			continue;
		if (vendor == 0x1af4 && device == 0x1110) {
			snprintf(bdf, len, "%s", de->d_name);
			ret = 0;
			break;
		}
	}
	closedir(dir);
	return ret;
}

const char *vd_expected_driver(void)
{
	const char *env = getenv("VD_DRIVER");

	return env && *env ? env : "vfio-pci-dmabuf";
}

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

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver", bdf);
	ret = link_basename(path, name, len);
	if (ret == -ENOENT) {
		name[0] = '\0';
		return 0;
	}
	return ret;
}

int vd_write_file(const char *path, const char *val)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int vd_bind(const char *bdf, const char *driver)
{
	char path[PATH_MAX], drv[64];
	int ret;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver_override", bdf);
	ret = vd_write_file(path, driver);
	if (ret)
		return ret;
	/* drivers_probe fails when the device is already bound: look after */
	vd_write_file("/sys/bus/pci/drivers_probe", bdf);
	ret = vd_bound_driver(bdf, drv, sizeof(drv));
	if (ret)
		return ret;
	return strcmp(drv, driver) ? -ENODEV : 0;
}

int vd_unbind(const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver/unbind", bdf);
	return vd_write_file(path, bdf);
}

static void *unbind_thread(void *arg)
{
	struct vd_unbinder *u = arg;

	u->ret = vd_unbind(u->bdf);
	atomic_store(&u->done, 1);
	return NULL;
}

int vd_unbind_start(struct vd_unbinder *u, const char *bdf)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->bdf, sizeof(u->bdf), "%s", bdf);
	return -pthread_create(&u->thread, NULL, unbind_thread, u);
}

int vd_unbind_wait(struct vd_unbinder *u, int ms)
{
	while (!atomic_load(&u->done) && ms-- > 0)
		usleep(1000);
	if (!atomic_load(&u->done))
		return 0;
	pthread_join(u->thread, NULL);
	return 1;
}

int vd_open_group(struct vd_dev *d, const char *bdf)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[PATH_MAX], group[64];
	int ret;

	memset(d, 0, sizeof(*d));
	d->container = d->group = d->fd = -1;
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/iommu_group", bdf);
	ret = link_basename(path, group, sizeof(group));
	if (ret)
		return ret;

	d->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container < 0)
		goto err;
	if (ioctl(d->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		errno = EPROTO;
		goto err;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%s", group);
	d->group = open(path, O_RDWR | O_CLOEXEC);
	if (d->group < 0)
		goto err;
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &st))
		goto err;
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		errno = EBUSY;
		goto err;
	}
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container))
		goto err;
	if (ioctl(d->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		goto err;
	d->fd = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (d->fd < 0)
		goto err;
	return 0;
err:
	ret = -errno;
	vd_close(d);
	return ret;
}

void vd_close(struct vd_dev *d)
{
	if (d->fd >= 0)
		close(d->fd);
	if (d->group >= 0)
		close(d->group);
	if (d->container >= 0)
		close(d->container);
	d->fd = d->group = d->container = -1;
}

int vd_region_info(struct vd_dev *d, uint32_t index, struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	return ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, ri) ? -errno : 0;
}

int vd_feature_argsz(int fd, uint32_t flags, const void *data, size_t size,
		     uint32_t argsz)
{
	struct vfio_device_feature *f;
	int ret, saved;

	f = calloc(1, sizeof(*f) + size);
	if (!f)
		return -1;
	f->argsz = argsz;
	f->flags = flags;
	if (size)
		memcpy(f->data, data, size);
	ret = ioctl(fd, VFIO_DEVICE_FEATURE, f);
	saved = errno;
	free(f);
	errno = saved;
	return ret;
}

int vd_feature(int fd, uint32_t flags, const void *data, size_t size)
{
	return vd_feature_argsz(fd, flags, data, size,
				sizeof(struct vfio_device_feature) + size);
}

int vd_export(int fd, uint32_t region, uint32_t open_flags, uint32_t flags,
	      const struct vfio_region_dma_range *r, uint32_t nr, int argsz_delta)
{
	size_t ranges = (size_t)nr * sizeof(*r), size, alloc;
	struct vfio_device_feature_dma_buf *db;
	int ret, saved;

	/* A huge nr is a test of the kernel: pass what fits in the buffer. */
	if (ranges > 1 << 20)
		ranges = 1 << 20;
	size = sizeof(*db) + ranges;
	/* a longer argsz passes zeroes past the last range */
	alloc = size + (argsz_delta > 0 ? argsz_delta : 0);
	db = calloc(1, alloc);
	if (!db)
		return -1;
	db->region_index = region;
	db->open_flags = open_flags;
	db->flags = flags;
	db->nr_ranges = nr;
	if (r)
		memcpy(db->dma_ranges, r, ranges);
	ret = vd_feature_argsz(fd, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF,
			       db, alloc, sizeof(struct vfio_device_feature) + size + argsz_delta);
	saved = errno;
	free(db);
	errno = saved;
	return ret;
}

void vd_pattern(void *buf, size_t len, uint32_t seed)
{
	unsigned char *p = buf;
	uint32_t x = seed;
	size_t i;

	if (!seed) {	/* VD_ZEROES */
		memset(buf, 0, len);
		return;
	}

	/* xorshift32, one byte per step; mirrored by the host's checker */
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

int vd_host_expect(const char *what, uint64_t offset, uint64_t len, uint32_t seed)
{
	const char *out = getenv("VD_OUT");
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/host-verify.txt", out && *out ? out : ".");
	f = fopen(path, "a");
	if (!f)
		return -errno;
	fprintf(f, "%s 0x%llx 0x%llx 0x%x\n", what, (unsigned long long)offset,
		(unsigned long long)len, seed);
	return fclose(f) ? -errno : 0;
}

int vd_is_mainline(void)
{
	return !strcmp(vd_expected_driver(), "vfio-pci");
}

const char *vd_exporter_module(void)
{
	return vd_is_mainline() ? "vfio_pci_core" : "vfio_pci_dmabuf";
}

int vd_module_refcnt(const char *name)
{
	char path[PATH_MAX];
	FILE *f;
	int n, v;

	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", name);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	n = fscanf(f, "%d", &v);
	fclose(f);
	return n == 1 ? v : -EINVAL;
}

int vd_fdinfo(int fd, const char *key, char *val, size_t len)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *v = line + klen;

		if (strncmp(line, key, klen) || *v != ':')
			continue;
		v++;
		v += strspn(v, " \t");
		v[strcspn(v, "\n")] = '\0';
		snprintf(val, len, "%s", v);
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

FILE *vd_dbg_open(const char *bdf)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/debug/vfio-pci-dmabuf/%s", bdf);
	return fopen(path, "r");
}

long vd_dbg_count(const char *bdf, const char *kind, const char *trigger)
{
	char line[512], *p;
	size_t klen = strlen(kind), tlen = strlen(trigger);
	long ret = -1;
	FILE *f;

	f = vd_dbg_open(bdf);
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, kind, klen) || line[klen] != ' ')
			continue;
		for (p = strtok(line + klen, " \n"); p; p = strtok(NULL, " \n"))
			if (!strncmp(p, trigger, tlen) && p[tlen] == '=')
				ret = strtol(p + tlen + 1, NULL, 10);
		break;
	}
	fclose(f);
	return ret;
}

long vd_dbg_exports(const char *bdf)
{
	char line[512];
	long ret = -1;
	FILE *f;

	f = vd_dbg_open(bdf);
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "exports %ld", &ret) == 1)
			break;
	fclose(f);
	return ret;
}

int vd_set_memory_enable(struct vd_dev *d, int on)
{
	struct vfio_region_info ri;
	uint16_t cmd;
	int ret;

	ret = vd_region_info(d, VFIO_PCI_CONFIG_REGION_INDEX, &ri);
	if (ret)
		return ret;
	if (pread(d->fd, &cmd, sizeof(cmd), ri.offset + 4) != sizeof(cmd))
		return -EIO;
	cmd = on ? cmd | 0x2 : cmd & ~0x2;	/* PCI_COMMAND_MEMORY */
	if (pwrite(d->fd, &cmd, sizeof(cmd), ri.offset + 4) != sizeof(cmd))
		return -EIO;
	return 0;
}

static void append_row(const char *file, const char *key, const char *val)
{
	const char *out = getenv("VD_OUT");
	char path[PATH_MAX];
	int err = errno;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out && *out ? out : ".", file);
	f = fopen(path, "a");
	if (f) {
		fprintf(f, "%s\t%s\n", key, val);
		fclose(f);
	}
	errno = err;
}

void vd_errno_row(const char *input, int ret)
{
	const char *name = ret >= 0 ? "fd" : strerrorname_np(errno);

	append_row("errno-table.txt", input, name ?: "?");
}

void vd_trigger_row(const char *trigger, const char *outcome)
{
	append_row("trigger-table.txt", trigger, outcome);
}

int vd_open_fds(void)
{
	struct dirent *de;
	DIR *dir;
	int n = 0;

	dir = opendir("/proc/self/fd");
	if (!dir)
		return -errno;
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1;	/* the directory's own fd */
}

int vd_dmabuf_count(const char *exp_name)
{
	char line[512], *f[5], *save, *p;
	size_t i;
	int n = 0;
	FILE *fp;

	fp = fopen("/sys/kernel/debug/dma_buf/bufinfo", "r");
	if (!fp)
		return -errno;
	/* size, flags, mode, count, exp_name, ino, name: tab-separated */
	while (fgets(line, sizeof(line), fp)) {
		if (line[0] == '\t')
			continue;
		p = line;
		for (i = 0; i < 5; i++, p = NULL)
			if (!(f[i] = strtok_r(p, "\t\n", &save)))
				break;
		if (i == 5 && !strcmp(f[4], exp_name))
			n++;
	}
	fclose(fp);
	return n;
}

int vd_read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
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

int vd_reopen_device(struct vd_dev *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	return d->fd < 0 ? -errno : 0;
}

int vd_importer_roundtrip(int dmabuf)
{
	struct vdti_attach a = { .fd = dmabuf };
	int imp, segs, ret = 0;

	imp = open("/dev/vd_test_importer", O_RDWR | O_CLOEXEC);
	if (imp < 0)
		return -errno;
	if (ioctl(imp, VDTI_ATTACH, &a))
		ret = -errno;
	else if ((segs = ioctl(imp, VDTI_MAP)) < 0)
		ret = -errno;
	else if (ioctl(imp, VDTI_UNMAP))
		ret = -errno;
	else
		ret = segs;
	close(imp);
	return ret;
}

int vd_edu_xfer(int edu, unsigned long cmd, uint64_t off, void *buf, uint64_t len)
{
	struct edu_p2p_xfer x = { .offset = off, .len = len, .buf = (uintptr_t)buf };

	return ioctl(edu, cmd, &x);
}

struct edu_p2p_status vd_edu_status(int edu)
{
	struct edu_p2p_status st = {};

	ioctl(edu, EDU_P2P_STATUS, &st);
	return st;
}

int vd_stall_init(struct vd_stall *s, size_t pages)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	size_t psz = getpagesize();
	int ret;

	memset(s, 0, sizeof(*s));
	s->uffd = -1;
	s->pages = pages;
	s->map = mmap(NULL, pages * psz, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->map == MAP_FAILED)
		return -errno;
	s->page = s->map + (pages - 1) * psz;
	memset(s->map, 0, (pages - 1) * psz);	/* the others: present */
	/* root: faults from the kernel are handled too (no USER_MODE_ONLY) */
	s->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (s->uffd < 0)
		goto err;
	if (ioctl(s->uffd, UFFDIO_API, &api))
		goto err;
	reg.range.start = (uintptr_t)s->page;
	reg.range.len = psz;
	if (ioctl(s->uffd, UFFDIO_REGISTER, &reg))
		goto err;
	return 0;
err:
	ret = -errno;
	vd_stall_fini(s);
	return ret;
}

int vd_stall_wait(struct vd_stall *s, int ms)
{
	struct pollfd pfd = { .fd = s->uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, ms) != 1)
		return 0;
	if (read(s->uffd, &msg, sizeof(msg)) != sizeof(msg))
		return 0;
	return msg.event == UFFD_EVENT_PAGEFAULT;
}

int vd_stall_release(struct vd_stall *s, const void *content)
{
	size_t psz = getpagesize();
	struct uffdio_copy copy = {
		.dst = (uintptr_t)s->page, .len = psz,
	};
	void *zero = NULL;
	int ret = 0;

	if (!content) {
		zero = calloc(1, psz);
		if (!zero)
			return -ENOMEM;
		content = zero;
	}
	copy.src = (uintptr_t)content;
	if (ioctl(s->uffd, UFFDIO_COPY, &copy))
		ret = -errno;
	free(zero);
	return ret;
}

void vd_stall_fini(struct vd_stall *s)
{
	if (s->uffd >= 0)
		close(s->uffd);
	if (s->map && s->map != MAP_FAILED)
		munmap(s->map, s->pages * getpagesize());
	memset(s, 0, sizeof(*s));
	s->uffd = -1;
}
