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
		vdb_dmabuf_hold(vdb, VDB_HOLD_LOW_POWER);
		ret = vfio_pci_core_ioctl_feature(core_vdev, flags, arg, argsz);
		/* Stays revoked while the core has runtime PM engaged. */
		vdb_dmabuf_unhold(vdb, VDB_HOLD_LOW_POWER);
		return ret;
	case VFIO_DEVICE_FEATURE_LOW_POWER_EXIT:
		ret = vfio_pci_core_ioctl_feature(core_vdev, flags, arg, argsz);
		vdb_dmabuf_sync(vdb, VDB_HOLD_LOW_POWER);
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
 * Whether a config write may take MMIO away: leave memory decode off, or
 * move the device out of D0. Reads only the bytes of those two registers;
 * a fault reading them counts as "may" (the core's write fails anyway).
 */
static bool vdb_config_write_may_disable(struct vfio_pci_core_device *vdev,
					 const char __user *buf, size_t count,
					 loff_t pos)
{
	struct pci_dev *pdev = vdev->pdev;
	unsigned int reg;
	u16 cmd;
	u8 b;

	if (vdb_overlaps(pos, count, PCI_COMMAND, 2)) {
		cmd = le16_to_cpu(*(__le16 *)&vdev->vconfig[PCI_COMMAND]);
		for (reg = PCI_COMMAND; reg < PCI_COMMAND + 2; reg++) {
			if (!vdb_overlaps(pos, count, reg, 1))
				continue;
			if (get_user(b, buf + (reg - pos)))
				return true;
			cmd &= ~(0xff << (8 * (reg - PCI_COMMAND)));
			cmd |= b << (8 * (reg - PCI_COMMAND));
		}
		if (!(cmd & PCI_COMMAND_MEMORY))
			return true;
	}
	reg = pdev->pm_cap + PCI_PM_CTRL;
	if (pdev->pm_cap && vdb_overlaps(pos, count, reg, 1)) {
		if (get_user(b, buf + (reg - pos)))
			return true;
		if ((b & PCI_PM_CTRL_STATE_MASK) != PCI_D0)
			return true;
	}
	return false;
}

/* Whether a config write reaches the registers that turn MMIO on or off. */
static bool vdb_config_write_is_mmio(struct vfio_pci_core_device *vdev,
				     size_t count, loff_t pos)
{
	struct pci_dev *pdev = vdev->pdev;

	return vdb_overlaps(pos, count, PCI_COMMAND, 2) ||
	       (pdev->pm_cap && vdb_overlaps(pos, count, pdev->pm_cap + PCI_PM_CTRL, 2));
}

/*
 * Config writes that may turn MMIO off revoke before the write reaches the
 * device; every write to the command or PM control register re-reads the
 * state after it (memory decode back on, D0 again). Other registers cannot
 * change it, and a guest writes them often (BAR sizing, MSI setup): they
 * pass straight through, without a walk of the dma-bufs. FLR through config
 * space is a reset: the reset hooks see it.
 */
static ssize_t vdb_write(struct vfio_device *core_vdev, const char __user *buf,
			 size_t count, loff_t *ppos)
{
	struct vdb_device *vdb = vdb_from_vfio(core_vdev);
	loff_t pos = *ppos & VFIO_PCI_OFFSET_MASK;
	bool hold;
	ssize_t ret;

	if (VFIO_PCI_OFFSET_TO_INDEX(*ppos) != VFIO_PCI_CONFIG_REGION_INDEX ||
	    !vdb_config_write_is_mmio(&vdb->core, count, pos))
		return vfio_pci_core_write(core_vdev, buf, count, ppos);

	mutex_lock(&vdb->cfg_lock);
	hold = vdb_config_write_may_disable(&vdb->core, buf, count, pos);
	if (hold)
		vdb_dmabuf_hold(vdb, VDB_HOLD_CONFIG);
	ret = vfio_pci_core_write(core_vdev, buf, count, ppos);
	if (hold)
		vdb_dmabuf_unhold(vdb, VDB_HOLD_CONFIG);
	else
		vdb_dmabuf_sync(vdb, VDB_HOLD_CONFIG);
	mutex_unlock(&vdb->cfg_lock);
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
	vdb_debugfs_add(vdb);
	return 0;

err_put:
	vfio_put_device(&vdb->core.vdev);
	return ret;
}

static void vdb_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);

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
	vdb_dmabuf_hold(vdb_from_pdev(pdev), VDB_HOLD_RESET);
}

static void vdb_reset_done(struct pci_dev *pdev)
{
	vdb_dmabuf_unhold(vdb_from_pdev(pdev), VDB_HOLD_RESET);
}

/* AER: revoke on detection; re-grant on resume if memory decode is back. */
static pci_ers_result_t vdb_error_detected(struct pci_dev *pdev,
					   pci_channel_state_t state)
{
	vdb_dmabuf_hold(vdb_from_pdev(pdev), VDB_HOLD_AER);
	return vfio_pci_core_aer_err_detected(pdev, state);
}

static void vdb_error_resume(struct pci_dev *pdev)
{
	vdb_dmabuf_unhold(vdb_from_pdev(pdev), VDB_HOLD_AER);
}

static const struct pci_error_handlers vdb_err_handlers = {
	.error_detected	= vdb_error_detected,
	.resume		= vdb_error_resume,
	.reset_prepare	= vdb_reset_prepare,
	.reset_done	= vdb_reset_done,
};

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
