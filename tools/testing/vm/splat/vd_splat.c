// SPDX-License-Identifier: GPL-2.0-only
/*
 * vd_splat: make the kernel report a problem on request, to prove that the
 * rig's splat detector fails a run (tools/testing/vm/prove-splat). Not
 * part of the suite: loading it and writing a trigger taints the kernel and
 * fails any run it is in.
 *
 *   echo TRIGGER > /sys/module/vd_splat/parameters/trigger
 *
 *   none     nothing (the control: loading the module alone must not fail a run)
 *   warn     WARN(): "WARNING: CPU: ..." and a call trace
 *   lockdep  take two mutexes in one order, then in the other: lockdep's
 *            "possible circular locking dependency detected" (needs
 *            CONFIG_PROVE_LOCKING, else -EOPNOTSUPP)
 *   kasan    read a freed kmalloc object: "BUG: KASAN: slab-use-after-free"
 *            (needs CONFIG_KASAN, else -EOPNOTSUPP)
 */
#include <linux/compiler.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>

static DEFINE_MUTEX(vd_splat_a);
static DEFINE_MUTEX(vd_splat_b);

static noinline void vd_splat_lock_inversion(void)
{
	mutex_lock(&vd_splat_a);
	mutex_lock(&vd_splat_b);
	mutex_unlock(&vd_splat_b);
	mutex_unlock(&vd_splat_a);

	/* B then A: lockdep has seen A -> B, and reports the cycle here */
	mutex_lock(&vd_splat_b);
	mutex_lock(&vd_splat_a);
	mutex_unlock(&vd_splat_a);
	mutex_unlock(&vd_splat_b);
}

static noinline int vd_splat_use_after_free(void)
{
	char *p = kmalloc(64, GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	kfree(p);
	return READ_ONCE(p[8]);
}

static int vd_splat_set(const char *val, const struct kernel_param *kp)
{
	if (sysfs_streq(val, "none"))
		return 0;
	if (sysfs_streq(val, "warn")) {
		WARN(1, "vd_splat: warning on request\n");
		return 0;
	}
	if (sysfs_streq(val, "lockdep")) {
		if (!IS_ENABLED(CONFIG_PROVE_LOCKING))
			return -EOPNOTSUPP;
		vd_splat_lock_inversion();
		return 0;
	}
	if (sysfs_streq(val, "kasan")) {
		if (!IS_ENABLED(CONFIG_KASAN))
			return -EOPNOTSUPP;
		vd_splat_use_after_free();
		return 0;
	}
	return -EINVAL;
}

static const struct kernel_param_ops vd_splat_ops = {
	.set = vd_splat_set,
};
module_param_cb(trigger, &vd_splat_ops, NULL, 0200);
MODULE_PARM_DESC(trigger, "none, warn, lockdep or kasan: the report to make");

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vfio-dmabuf rig: kernel reports on request (test only)");
