// SPDX-License-Identifier: GPL-2.0-only
/*
 * libvfio-dmabuf: the device under test, from the environment, as
 * mainline's VFIO selftests take a BDF: VD_BDF names the device, VD_DRIVER
 * the driver it is bound to (vfio-pci-dmabuf, or mainline vfio-pci).
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <linux/pci_regs.h>

#include <vfio-dmabuf/vd.h>

int vd_env_bdf(char *bdf, size_t len)
{
	const char *env = getenv("VD_BDF");

	if (env && *env) {
		snprintf(bdf, len, "%s", env);
		return 0;
	}
	return vd_pci_find(0x1af4, 0x1110, bdf, len);	/* ivshmem */
}

int vd_env_bar(struct vd_dev *d, struct vfio_region_info *ri)
{
	const char *env = getenv("VD_BAR");
	struct vfio_region_info each;
	uint16_t ids[2] = { 0 };
	int bar, best = -ENODEV, ret;

	if (env && *env) {
		bar = atoi(env);
		ret = vd_region_info(d, bar, ri);
		return ret ? ret : bar;
	}
	vd_cfg_read(d, PCI_VENDOR_ID, ids, sizeof(ids));
	if (ids[0] == 0x1af4 && ids[1] == 0x1110 &&
	    !vd_region_info(d, VD_IVSHMEM_BAR, ri))
		return VD_IVSHMEM_BAR;
	/* the largest: an MSI-X table's BAR is a page or two, a GPU's is GiBs */
	for (bar = VFIO_PCI_BAR0_REGION_INDEX; bar <= VFIO_PCI_BAR5_REGION_INDEX; bar++) {
		if (vd_region_info(d, bar, &each) || !(each.flags & VFIO_REGION_INFO_FLAG_MMAP) ||
		    each.size < 4096 || (best >= 0 && each.size <= ri->size))
			continue;
		*ri = each;
		best = bar;
	}
	return best;
}

int vd_env_real_host(void)
{
	const char *env = getenv("VD_REAL_HOST");

	return env && !strcmp(env, "1");
}

const char *vd_env_driver(void)
{
	const char *env = getenv("VD_DRIVER");

	return env && *env ? env : VD_DRIVER;
}

int vd_env_is_mainline(void)
{
	return !strcmp(vd_env_driver(), "vfio-pci");
}

int vd_env_mainline_bug(const char *fix)
{
	const char *env = getenv("VD_MAINLINE_FIXED");
	size_t len = strlen(fix);
	const char *p;

	if (!vd_env_is_mainline())
		return 0;
	for (p = env; p && (p = strstr(p, fix)); p += len)
		if ((p == env || p[-1] == ' ') && (!p[len] || p[len] == ' '))
			return 0;
	return 1;
}

const char *vd_env_exporter_module(void)
{
	return vd_env_is_mainline() ? "vfio_pci_core" : "vfio_pci_dmabuf";
}
