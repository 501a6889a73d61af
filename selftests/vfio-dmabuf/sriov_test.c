// SPDX-License-Identifier: GPL-2.0-only
/*
 * SR-IOV, as vfio-pci does it: a PF bound to the driver under test creates
 * VFs through sysfs when the driver's enable_sriov parameter allows it; the
 * VFs are bound to the same driver (vfio_pci_core sets their
 * driver_override).
 *
 * The rig's PF is QEMU's NVMe controller with one VF (VD_SRIOV_BDF); no
 * NVMe driver is loaded in the guest. As with vfio-pci, a VF whose PF is
 * bound here opens only with the VF token the PF's user sets. The VF is not
 * opened here: QEMU's NVMe VF answers only once the PF's NVMe driver has
 * brought its secondary controller online, which a PF in VFIO has not (the
 * VF reads all ones and never comes back from the FLR that open does).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vd_test.h"


FIXTURE(sriov) {
	const char *pf;
	char param[PATH_MAX];
	char numvfs[PATH_MAX];
};

/* /sys/module/<driver, as a module name>/parameters/enable_sriov */
static void param_path(char *buf, size_t len)
{
	char mod[64], *p;

	snprintf(mod, sizeof(mod), "%s", vd_env_driver());
	for (p = mod; *p; p++)
		if (*p == '-')
			*p = '_';
	snprintf(buf, len, "/sys/module/%s/parameters/enable_sriov", mod);
}

/* Back to no VFs and enable_sriov off. 0 or -errno. */
static int no_vfs(const char *param, const char *numvfs)
{
	int ret = vd_write_file(param, "Y");

	if (!ret)
		ret = vd_write_file(numvfs, "0");
	if (!ret)
		ret = vd_write_file(param, "N");
	return ret;
}

FIXTURE_SETUP(sriov)
{
	char drv[64];
	int ret;

	/*
	 * vfio_pci_core of the 6.12 under test (6.12.95) enables SR-IOV holding
	 * the PF's memory_lock, and the new VFs' probe takes their dev_set
	 * lock, the reverse of open's order (dev_set lock, then a runtime
	 * resume that takes memory_lock): lockdep reports the cycle, for
	 * vfio-pci as for this driver. 6.1.192 and mainline 7.2 enable SR-IOV
	 * after dropping memory_lock. Only the debug kernel has lockdep.
	 */
	if (!vd_env_is_mainline() && !access("/proc/lockdep", F_OK))
		SKIP(return, "this 6.12's vfio_pci_core enables SR-IOV under memory_lock, "
		     "which lockdep reports (6.1.192 and mainline 7.2 drop the lock first)");

	self->pf = getenv("VD_SRIOV_BDF");
	ASSERT_NE(NULL, self->pf) TH_LOG("the rig binds an SR-IOV PF and sets VD_SRIOV_BDF");
	ASSERT_EQ(0, vd_bound_driver(self->pf, drv, sizeof(drv)));
	ASSERT_STREQ(vd_env_driver(), drv);
	param_path(self->param, sizeof(self->param));
	snprintf(self->numvfs, sizeof(self->numvfs),
		 "/sys/bus/pci/devices/%s/sriov_numvfs", self->pf);
	ASSERT_EQ(0, access(self->param, W_OK)) TH_LOG("%s", self->param);
	ret = no_vfs(self->param, self->numvfs);
	ASSERT_EQ(0, ret) TH_LOG("no VFs to start with: %s", vd_strerr(ret));
}

FIXTURE_TEARDOWN(sriov)
{
	int ret = no_vfs(self->param, self->numvfs);

	if (ret)
		TH_LOG("teardown: disabling the VFs: %s", vd_strerr(ret));
}

/* The VF's BDF, from the PF's virtfn0 link. 0 or -errno. */
static int first_vf(const char *pf, char *vf, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX], *slash;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/virtfn0", pf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	slash = strrchr(target, '/');
	slash = slash ? slash + 1 : target;
	if (strlen(slash) >= len)
		return -ENAMETOOLONG;
	strcpy(vf, slash);
	return 0;
}

/* As vfio-pci: without enable_sriov the PF refuses, with ENOENT. */
TEST_F(sriov, refused_unless_enabled)
{
	char vf[32];

	ASSERT_EQ(0, vd_write_file(self->param, "N"));
	ASSERT_EQ(-ENOENT, vd_write_file(self->numvfs, "1"));
	ASSERT_NE(0, first_vf(self->pf, vf, sizeof(vf)));
}

TEST_F(sriov, vf_appears_bound_here)
{
	char vf[32], drv[64], n[16];
	struct vd_dev dev;

	ASSERT_EQ(0, vd_write_file(self->param, "Y"));
	VD_ASSERT_OK(vd_write_file(self->numvfs, "1"));
	ASSERT_EQ(0, vd_read_file(self->numvfs, n, sizeof(n)));
	ASSERT_STREQ("1", n);
	ASSERT_EQ(0, first_vf(self->pf, vf, sizeof(vf)));
	ASSERT_EQ(0, vd_bound_driver(vf, drv, sizeof(drv)));
	ASSERT_STREQ(vd_env_driver(), drv) TH_LOG("VF %s", vf);

	/* without the PF user's VF token, the VF does not open */
	ASSERT_EQ(-EACCES, vd_open_group(&dev, vf)) TH_LOG("a VF opened without the token");

	ASSERT_EQ(0, vd_write_file(self->numvfs, "0"));
	ASSERT_NE(0, first_vf(self->pf, vf, sizeof(vf))) TH_LOG("the VF should be gone");
}

TEST_HARNESS_MAIN
