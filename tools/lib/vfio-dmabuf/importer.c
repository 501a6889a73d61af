// SPDX-License-Identifier: GPL-2.0-only
/*
 * libvfio-dmabuf: the project's two importers, driven from userspace.
 * vd_test_importer (selftests/vfio-dmabuf/importer) attaches, maps and
 * counts like a dynamic RDMA NIC; edu-p2p (drivers/p2p/edu) DMAs into what
 * it imported with QEMU's edu engine.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <vfio-dmabuf/vd.h>

int vd_importer_open(void)
{
	int imp = open(VD_IMPORTER_DEV, O_RDWR | O_CLOEXEC);

	return imp < 0 ? -errno : imp;
}

int vd_importer_attach(int imp, int dmabuf, uint32_t flags)
{
	struct vdti_attach a = { .fd = dmabuf, .flags = flags };

	return ioctl(imp, VDTI_ATTACH, &a) ? -errno : 0;
}

int vd_importer_map(int imp)
{
	int segs = ioctl(imp, VDTI_MAP);

	return segs < 0 ? -errno : segs;
}

int vd_importer_pin(int imp, int pin)
{
	return ioctl(imp, pin ? VDTI_PIN : VDTI_UNPIN) ? -errno : 0;
}

int vd_importer_unmap(int imp)
{
	return ioctl(imp, VDTI_UNMAP) ? -errno : 0;
}

struct vdti_status vd_importer_status(int imp)
{
	struct vdti_status st = {};

	ioctl(imp, VDTI_STATUS, &st);
	return st;
}

int vd_importer_watch(int imp, const char *bdf)
{
	unsigned int domain, bus, dev, fn;
	struct vdti_watch w = {};

	if (sscanf(bdf, "%x:%x:%x.%x", &domain, &bus, &dev, &fn) != 4)
		return -EINVAL;
	w.domain = domain;
	w.bus = bus;
	w.devfn = dev << 3 | fn;
	return ioctl(imp, VDTI_WATCH, &w) ? -errno : 0;
}

int vd_importer_roundtrip(int dmabuf)
{
	int imp, segs, ret;

	imp = vd_importer_open();
	if (imp < 0)
		return imp;
	segs = vd_importer_attach(imp, dmabuf, 0);
	if (!segs)
		segs = vd_importer_map(imp);
	ret = segs < 0 ? segs : vd_importer_unmap(imp);
	close(imp);
	return ret ? ret : segs;
}

int vd_edu_import(int edu, int dmabuf, uint32_t mode, uint64_t off, uint64_t len,
		  const char *rdma_netdev)
{
	struct edu_p2p_import imp = {
		.fd = dmabuf, .mode = mode, .offset = off, .length = len,
	};

	if (rdma_netdev)
		snprintf(imp.rdma_netdev, sizeof(imp.rdma_netdev), "%s", rdma_netdev);
	return ioctl(edu, EDU_P2P_IMPORT, &imp) ? -errno : 0;
}

int vd_edu_xfer(int edu, unsigned long cmd, uint64_t off, void *buf, uint64_t len)
{
	struct edu_p2p_xfer x = { .offset = off, .len = len, .buf = (uintptr_t)buf };

	return ioctl(edu, cmd, &x) ? -errno : 0;
}

struct edu_p2p_status vd_edu_status(int edu)
{
	struct edu_p2p_status st = {};

	ioctl(edu, EDU_P2P_STATUS, &st);
	return st;
}
