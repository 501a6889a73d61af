// SPDX-License-Identifier: GPL-2.0-only
/*
 * Peer-to-peer reachability, on the rig's "topology" machine only
 * (host/qemu.py, run by guest/topology-guest.sh; not a *_test, so the
 * suite's machine never runs it): the exported ivshmem BAR below a PCIe
 * switch (x3130-upstream, xio3130-downstream ports), edu-p2p on an edu
 * below the same switch, the test importer on an edu behind a root port of
 * its own; an Intel CPU (Skylake-Client) and q35's host bridge, which the
 * PCI core's P2PDMA list does not name; the IOMMU on, in passthrough
 * (iommu=pt) for the kernel's own DMA.
 *
 * What this machine is, as seen on QEMU 7.2 (and checked below): the
 * switch's downstream ports have no ACS capability, so nothing redirects a
 * request between the two devices below it; the kernel still gives each
 * downstream port's subtree an IOMMU group of its own, so ivshmem can be
 * opened through VFIO while the edu below the other port has a driver.
 *
 * So the edu below the switch reaches the BAR at its bus address (ours
 * hands that out: debugfs says "route bus"; with iommu=pt the bus address
 * is also the address the IOMMU lets through, so the bytes land either
 * way), and the edu behind the other root port does not reach it at all:
 * mainline (7.x's vfio-pci) refuses it at map with EINVAL; ours (on a
 * kernel with CONFIG_PCI_P2PDMA) at attach, with the same errno and one
 * log line naming importer, exporter and why (dmabuf.c, "Peer-to-peer
 * reachability").
 *
 * The route through the host bridge, which an AMD Zen CPU allows, is the
 * suite's machine (-cpu EPYC): p2p_dma_test moves bytes over it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vd_test.h"
#include <linux/edu_p2p.h>

#define EXPORT_OFF	0x800000ULL
#define EXPORT_LEN	0x40000ULL
#define PCI_EXT_CAP_ID_ACS	0x0d
#define PCI_ACS_CTRL		0x06
#define PCI_ACS_RR		0x0004
#define PCI_ACS_CR		0x0008

/* Whether the kernel log holds a line with both @a and @b. */
static int klog_has(const char *a, const char *b)
{
	int len = klogctl(10, NULL, 0);	/* SYSLOG_ACTION_SIZE_BUFFER */
	char *buf, *line, *save;
	int found = 0;

	if (len <= 0)
		return 0;
	buf = calloc(1, len + 1);
	if (!buf)
		return 0;
	len = klogctl(3, buf, len);	/* SYSLOG_ACTION_READ_ALL */
	if (len > 0)
		for (line = strtok_r(buf, "\n", &save); line && !found;
		     line = strtok_r(NULL, "\n", &save))
			found = strstr(line, a) && strstr(line, b);
	free(buf);
	return found;
}

/* The first CPU's vendor_id line of /proc/cpuinfo. */
static int cpu_vendor(char *out, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[256];
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "vendor_id", 9)) {
			snprintf(out, len, "%s", line);
			ret = 0;
			break;
		}
	fclose(f);
	return ret;
}

/* The ACS Control register of @bdf, or -1 when it has no ACS capability. */
static int acs_ctrl(const char *bdf)
{
	unsigned char cfg[4096];
	char path[128];
	unsigned int off = 0x100;
	int fd, n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, cfg, sizeof(cfg));
	close(fd);
	while (n == sizeof(cfg) && off >= 0x100 && off < 0xffc) {
		unsigned int hdr = cfg[off] | cfg[off + 1] << 8 |
				   cfg[off + 2] << 16 | cfg[off + 3] << 24;

		if ((hdr & 0xffff) == PCI_EXT_CAP_ID_ACS)
			return cfg[off + PCI_ACS_CTRL] | cfg[off + PCI_ACS_CTRL + 1] << 8;
		off = hdr >> 20;
		if (!off)
			break;
	}
	return -1;
}

/* The BDF of @bdf's parent bridge, from sysfs. */
static int parent_bdf(const char *bdf, char *out, size_t len)
{
	char path[128], real[512], *p;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	if (!realpath(path, real))
		return -errno;
	p = strrchr(real, '/');
	if (!p)
		return -EINVAL;
	*p = 0;
	p = strrchr(real, '/');
	if (!p || !vd_bdf_valid(p + 1))
		return -ENOENT;
	snprintf(out, len, "%s", p + 1);
	return 0;
}

FIXTURE(topology) {
	struct vd_dev dev;
	int dmabuf;
};

FIXTURE_SETUP(topology)
{
	const struct vfio_region_dma_range r = { EXPORT_OFF, EXPORT_LEN };
	char cpu[256] = "";

	self->dmabuf = -1;
	/* the machine's claim: not an AMD Zen, whose host bridge routes it */
	VD_ASSERT_OK(cpu_vendor(cpu, sizeof(cpu)));
	ASSERT_NE(NULL, strstr(cpu, "GenuineIntel")) TH_LOG("%s", cpu);
	vd_test_open(_metadata, &self->dev);
	self->dmabuf = VD_ASSERT_OK(vd_export(self->dev.fd, VD_IVSHMEM_BAR,
					      O_CLOEXEC, 0, &r, 1, 0));
}

FIXTURE_TEARDOWN(topology)
{
	if (self->dmabuf >= 0)
		close(self->dmabuf);
	vd_close(&self->dev);
}

/* What the next two tests rest on: nothing below the switch redirects. */
TEST_F(topology, switch_port_does_not_redirect_peer_requests)
{
	char port[VD_BDF_LEN];
	int ctrl;

	VD_ASSERT_OK(parent_bdf(self->dev.bdf, port, sizeof(port)));
	ctrl = acs_ctrl(port);
	ASSERT_TRUE(ctrl < 0 || !(ctrl & (PCI_ACS_RR | PCI_ACS_CR)))
		TH_LOG("%s ACS control %#x", port, ctrl);
}

/* Below the same switch: the switch routes it, DMA lands in the BAR. */
TEST_F(topology, importer_below_the_switch_dmas_into_the_bar)
{
	unsigned char buf[4096];
	char dbg[8192] = "", want[128], *line;
	size_t n;
	FILE *f;
	int edu;

	edu = open(VD_EDU_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, edu);
	VD_ASSERT_OK(vd_edu_import(edu, self->dmabuf, EDU_P2P_DYNAMIC, 0, 0, NULL));
	vd_pattern(buf, sizeof(buf), 0x70b0);
	VD_ASSERT_OK(vd_edu_xfer(edu, EDU_P2P_WRITE, 0x1000, buf, sizeof(buf)));
	ASSERT_EQ(0, vd_host_expect("edu_dma_below_the_switch", EXPORT_OFF + 0x1000,
				    sizeof(buf), 0x70b0));
	if (!vd_env_is_mainline()) {
		/* ours says which route it gave the importer */
		snprintf(want, sizeof(want), "%s/%s", VD_DEBUGFS, self->dev.bdf);
		f = fopen(want, "re");
		ASSERT_NE(NULL, f);
		n = fread(dbg, 1, sizeof(dbg) - 1, f);
		fclose(f);
		dbg[n] = 0;
		snprintf(want, sizeof(want), "importer %s driver edu-p2p maps 1 ",
			 getenv("VD_P2P_BDF") ?: "?");
		line = strstr(dbg, want);
		ASSERT_NE(NULL, line) TH_LOG("%s", dbg);
		line[strcspn(line, "\n")] = 0;
		ASSERT_NE(NULL, strstr(line, " route bus")) TH_LOG("%s", line);
	}
	close(edu);
}

/* Behind another root port: only q35's host bridge joins them. */
TEST_F(topology, importer_behind_another_root_port_is_refused)
{
	const char *importer = getenv("VD_IMPORTER_BDF");
	int imp;

	ASSERT_NE(NULL, importer);
	imp = VD_ASSERT_OK(vd_importer_open());
	if (vd_env_is_mainline()) {
		/* mainline: at map */
		VD_ASSERT_OK(vd_importer_attach(imp, self->dmabuf, 0));
		VD_ASSERT_ERR(EINVAL, vd_importer_map(imp));
		ASSERT_TRUE(klog_has(importer, "do not share an upstream bridge"));
	} else {
		/* ours: at attach, once */
		VD_ASSERT_ERR(EINVAL, vd_importer_attach(imp, self->dmabuf, 0));
		ASSERT_TRUE(klog_has(importer, "cannot reach BAR 2 peer to peer: no bridge"));
	}
	ASSERT_EQ(0, vd_importer_status(imp).maps);
	close(imp);
}

TEST_HARNESS_MAIN
