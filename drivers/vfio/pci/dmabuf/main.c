// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-pci-dmabuf: a vfio-pci variant driver that exports MMIO BARs as
 * dma-bufs (VFIO_DEVICE_FEATURE_DMA_BUF) on kernels whose vfio-pci lacks it.
 *
 * Everything but the dma-buf feature is vfio_pci_core, so a device bound
 * here behaves exactly like one bound to vfio-pci. Bind through
 * driver_override; the driver matches nothing on its own.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>
#include <uapi/linux/vfio_dmabuf.h>

#include "compat.h"
#include "vfio_pci_dmabuf.h"

static int vdb_open_device(struct vfio_device *core_vdev)
{
	struct vfio_pci_core_device *vdev =
		container_of(core_vdev, struct vfio_pci_core_device, vdev);
	int ret;

	vdb_dmabuf_open(vdb_from_core(vdev));
	ret = vfio_pci_core_enable(vdev);
	if (ret)
		return ret;

	vfio_pci_core_finish_enable(vdev);
	return 0;
}

static void vdb_close_device(struct vfio_device *core_vdev)
{
	/* Before the core turns the device off: importers let go first. */
	vdb_dmabuf_close(vdb_from_vfio(core_vdev));
	vfio_pci_core_close_device(core_vdev);
}

static int vdb_device_feature(struct vfio_device *core_vdev, u32 flags,
			      void __user *arg, size_t argsz)
{
	struct vdb_device *vdb = vdb_from_vfio(core_vdev);
	int ret;

	switch (flags & VFIO_DEVICE_FEATURE_MASK) {
	case VFIO_DEVICE_FEATURE_DMA_BUF:
		return vdb_feature_dma_buf(vdb, flags, arg, argsz);
	case VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY:
	case VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP:
		if (flags & VFIO_DEVICE_FEATURE_PROBE)
			break;
		/* Importers let go before the device may go to sleep. */
		vdb_dmabuf_hold(vdb, VDB_TRIGGER_LOW_POWER);
		ret = vfio_pci_core_ioctl_feature(core_vdev, flags, arg, argsz);
		/* Stays revoked while the core has runtime PM engaged. */
		vdb_dmabuf_unhold(vdb, VDB_TRIGGER_LOW_POWER);
		return ret;
	case VFIO_DEVICE_FEATURE_LOW_POWER_EXIT:
		ret = vfio_pci_core_ioctl_feature(core_vdev, flags, arg, argsz);
		vdb_dmabuf_sync(vdb, VDB_TRIGGER_LOW_POWER);
		return ret;
	}
	return vfio_pci_core_ioctl_feature(core_vdev, flags, arg, argsz);
}

static bool vdb_overlaps(loff_t pos, size_t count, unsigned int reg,
			 unsigned int len)
{
	return pos < reg + len && reg < pos + count;
}

/*
 * Whether a config write reaches the bits that turn MMIO on or off: memory
 * decode, in the low byte of the command register, and the power state, in
 * the low byte of PM control.
 */
static bool vdb_config_write_is_mmio(struct pci_dev *pdev, size_t count,
				     loff_t pos)
{
	return vdb_overlaps(pos, count, PCI_COMMAND, 1) ||
	       (pdev->pm_cap &&
		vdb_overlaps(pos, count, pdev->pm_cap + PCI_PM_CTRL, 1));
}

/*
 * Every write that reaches those bits holds the dma-bufs revoked from before
 * it reaches the device until it is done; then they follow the state it
 * left (memory decode on again, back in D0). Other registers cannot turn
 * MMIO off, and a guest writes them often (BAR sizing, MSI setup): they pass
 * straight through, without a walk of the dma-bufs. FLR through config space
 * is a reset: the reset hooks see it.
 *
 * The hold is taken whatever value is written, even one that leaves memory
 * decode on: the core copies the value from userspace again, and a second
 * thread may change it between any read of ours and that copy. Only the
 * core's own copy decides, and it is out of our sight.
 */
static ssize_t vdb_write(struct vfio_device *core_vdev, const char __user *buf,
			 size_t count, loff_t *ppos)
{
	struct vdb_device *vdb = vdb_from_vfio(core_vdev);
	loff_t pos = *ppos & VFIO_PCI_OFFSET_MASK;
	ssize_t ret;

	if (VFIO_PCI_OFFSET_TO_INDEX(*ppos) != VFIO_PCI_CONFIG_REGION_INDEX ||
	    !vdb_config_write_is_mmio(vdb->core.pdev, count, pos))
		return vfio_pci_core_write(core_vdev, buf, count, ppos);

	vdb_dmabuf_hold(vdb, VDB_TRIGGER_CONFIG);
	ret = vfio_pci_core_write(core_vdev, buf, count, ppos);
	vdb_dmabuf_unhold(vdb, VDB_TRIGGER_CONFIG);
	return ret;
}

static int vdb_init_dev(struct vfio_device *core_vdev)
{
	vdb_dmabuf_init(vdb_from_vfio(core_vdev));
	return vfio_pci_core_init_dev(core_vdev);
}

static void vdb_release_dev(struct vfio_device *core_vdev)
{
	vdb_dmabuf_uninit(vdb_from_vfio(core_vdev));
	vfio_pci_core_release_dev(core_vdev);
}

static const struct vfio_device_ops vdb_ops = {
	.name		= "vfio-pci-dmabuf",
	.init		= vdb_init_dev,
	.release	= vdb_release_dev,
	.open_device	= vdb_open_device,
	.close_device	= vdb_close_device,
	.ioctl		= vfio_pci_core_ioctl,
	.device_feature	= vdb_device_feature,
	.read		= vfio_pci_core_read,
	.write		= vdb_write,
	.mmap		= vfio_pci_core_mmap,
	.request	= vfio_pci_core_request,
	.match		= vfio_pci_core_match,
	VDB_MATCH_TOKEN_OPS
	VDB_REGION_INFO_OPS
	VDB_IOMMUFD_OPS
};

#ifdef CONFIG_PM
/*
 * vfio_pci_core installs its runtime PM ops into our driver when it registers
 * a device. We wrap them, once, to see wake-ups: a runtime resume with a
 * wake-up eventfd armed ends vfio's low-power state without any call of
 * ours, whoever resumed the device (a config access through vfio or sysfs,
 * the PCI core, the eventfd path), and the BAR is reachable again. A resume
 * that leaves the low-power state engaged re-grants nothing.
 *
 * The core writes its ops back at each registration; until we put ours back
 * a few instructions later, a wake-up of another of our devices goes
 * straight to the core. Its dma-bufs then stay revoked until the user's
 * LOW_POWER_EXIT or next command write: the safe side.
 */
static const struct dev_pm_ops *vdb_core_pm_ops;

static int vdb_runtime_suspend(struct device *dev)
{
	return vdb_core_pm_ops->runtime_suspend(dev);
}

static int vdb_runtime_resume(struct device *dev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(dev);
	int ret = vdb_core_pm_ops->runtime_resume(dev);

	if (vdev)
		vdb_dmabuf_sync(vdb_from_core(vdev), VDB_TRIGGER_LOW_POWER);
	return ret;
}

static const struct dev_pm_ops vdb_pm_ops = {
	SET_RUNTIME_PM_OPS(vdb_runtime_suspend, vdb_runtime_resume, NULL)
};

static DEFINE_MUTEX(vdb_pm_ops_lock);

static void vdb_wrap_pm_ops(struct device *dev)
{
	const struct dev_pm_ops *pm;

	mutex_lock(&vdb_pm_ops_lock);
	pm = READ_ONCE(dev->driver->pm);
	if (pm != &vdb_pm_ops) {
		/* the same core ops every time; a different one is a bug */
		if (!WARN_ON(vdb_core_pm_ops && pm != vdb_core_pm_ops) &&
		    pm && pm->runtime_suspend && pm->runtime_resume) {
			vdb_core_pm_ops = pm;
			WRITE_ONCE(dev->driver->pm, &vdb_pm_ops);
		}
	}
	mutex_unlock(&vdb_pm_ops_lock);
}
#else
static void vdb_wrap_pm_ops(struct device *dev) { }
#endif

static int vdb_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct vdb_device *vdb;
	int ret;

	vdb = vfio_alloc_device(vdb_device, core.vdev, &pdev->dev, &vdb_ops);
	if (IS_ERR(vdb))
		return PTR_ERR(vdb);

	dev_set_drvdata(&pdev->dev, &vdb->core);
	ret = vfio_pci_core_register_device(&vdb->core);
	if (ret)
		goto err_put;
	vdb_wrap_pm_ops(&pdev->dev);
	vdb_debugfs_add(vdb);
	return 0;

err_put:
	vfio_put_device(&vdb->core.vdev);
	return ret;
}

static void vdb_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);

	/*
	 * The device is going away, perhaps already gone (surprise removal):
	 * importers let go now, not when userspace gets round to closing the
	 * device fd, which the unregister below waits for. Never re-granted.
	 */
	vdb_dmabuf_hold(vdb_from_core(vdev), VDB_TRIGGER_REMOVE);
	/* Waits for readers of the file in flight. */
	vdb_debugfs_remove(vdb_from_core(vdev));
	/* Waits until the device is closed, which detaches its dma-bufs... */
	vfio_pci_core_unregister_device(vdev);
	/* ...but for those already on their way to ->release. */
	vdb_dmabuf_wait_gone(vdb_from_core(vdev));
	vfio_put_device(&vdev->vdev);
}

static struct vdb_device *vdb_from_pdev(struct pci_dev *pdev)
{
	return vdb_from_core(dev_get_drvdata(&pdev->dev));
}

/*
 * Every reset of the device, whoever starts it (VFIO_DEVICE_RESET, a hot
 * reset of its bus or slot from this or a sibling's fd, FLR through config
 * space, sysfs, a bus reset for another driver), passes here.
 */
static void vdb_reset_prepare(struct pci_dev *pdev)
{
	vdb_dmabuf_hold(vdb_from_pdev(pdev), VDB_TRIGGER_RESET);
}

static void vdb_reset_done(struct pci_dev *pdev)
{
	vdb_dmabuf_unhold(vdb_from_pdev(pdev), VDB_TRIGGER_RESET);
}

/*
 * AER: revoke on detection; re-grant once the hardware decodes memory again,
 * at resume or later (see vdb_aer_settle()).
 */
static pci_ers_result_t vdb_error_detected(struct pci_dev *pdev,
					   pci_channel_state_t state)
{
	vdb_dmabuf_hold(vdb_from_pdev(pdev), VDB_TRIGGER_AER);
	return vfio_pci_core_aer_err_detected(pdev, state);
}

static void vdb_error_resume(struct pci_dev *pdev)
{
	vdb_dmabuf_sync(vdb_from_pdev(pdev), VDB_TRIGGER_AER);
}

static const struct pci_error_handlers vdb_err_handlers = {
	.error_detected	= vdb_error_detected,
	.resume		= vdb_error_resume,
	.reset_prepare	= vdb_reset_prepare,
	.reset_done	= vdb_reset_done,
};

static bool enable_sriov;
module_param(enable_sriov, bool, 0644);
MODULE_PARM_DESC(enable_sriov, "Enable support for SR-IOV configuration, as vfio-pci's parameter of the same name. Enabling SR-IOV on a PF typically requires support of the userspace PF driver; VFs created without it may not work.");

/* As vfio-pci: VFs of a PF bound here are bound here too (driver_override). */
static int vdb_sriov_configure(struct pci_dev *pdev, int nr_virtfn)
{
	if (!enable_sriov)
		return -ENOENT;
	return vfio_pci_core_sriov_configure(dev_get_drvdata(&pdev->dev), nr_virtfn);
}

static const struct pci_device_id vdb_pci_table[] = {
	/* Any device, but only when driver_override names us. */
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_ANY_ID, PCI_ANY_ID) },
	{}
};
MODULE_DEVICE_TABLE(pci, vdb_pci_table);

static struct pci_driver vdb_pci_driver = {
	.name			= "vfio-pci-dmabuf",
	.id_table		= vdb_pci_table,
	.probe			= vdb_probe,
	.remove			= vdb_remove,
	.err_handler		= &vdb_err_handlers,
	.sriov_configure	= vdb_sriov_configure,
	.driver_managed_dma	= true,
};

static int __init vdb_init(void)
{
	int ret;

	vdb_debugfs_init();
	ret = pci_register_driver(&vdb_pci_driver);
	if (ret)
		vdb_debugfs_exit();
	return ret;
}
module_init(vdb_init);

static void __exit vdb_exit(void)
{
	pci_unregister_driver(&vdb_pci_driver);
	vdb_debugfs_exit();
}
module_exit(vdb_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vfio-pci variant driver exporting MMIO BARs as dma-bufs");
