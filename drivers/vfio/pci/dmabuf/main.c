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
	struct vfio_pci_core_device *vdev =
		container_of(core_vdev, struct vfio_pci_core_device, vdev);

	/* Before the core turns the device off: importers let go first. */
	vdb_dmabuf_close(vdb_from_core(vdev));
	vfio_pci_core_close_device(core_vdev);
}

static int vdb_device_feature(struct vfio_device *core_vdev, u32 flags,
			      void __user *arg, size_t argsz)
{
	struct vfio_pci_core_device *vdev =
		container_of(core_vdev, struct vfio_pci_core_device, vdev);

	switch (flags & VFIO_DEVICE_FEATURE_MASK) {
	case VFIO_DEVICE_FEATURE_DMA_BUF:
		return vdb_feature_dma_buf(vdb_from_core(vdev), flags, arg, argsz);
	default:
		return vfio_pci_core_ioctl_feature(core_vdev, flags, arg, argsz);
	}
}

static int vdb_init_dev(struct vfio_device *core_vdev)
{
	struct vfio_pci_core_device *vdev =
		container_of(core_vdev, struct vfio_pci_core_device, vdev);

	vdb_dmabuf_init(vdb_from_core(vdev));
	return vfio_pci_core_init_dev(core_vdev);
}

static void vdb_release_dev(struct vfio_device *core_vdev)
{
	struct vfio_pci_core_device *vdev =
		container_of(core_vdev, struct vfio_pci_core_device, vdev);

	mutex_destroy(&vdb_from_core(vdev)->dmabufs_lock);
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
	.write		= vfio_pci_core_write,
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
	return 0;

err_put:
	vfio_put_device(&vdb->core.vdev);
	return ret;
}

static void vdb_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);

	/* Waits until the device is closed, which detaches its dma-bufs... */
	vfio_pci_core_unregister_device(vdev);
	/* ...but for those already on their way to ->release. */
	vdb_dmabuf_wait_gone(vdb_from_core(vdev));
	vfio_put_device(&vdev->vdev);
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
	.err_handler		= &vfio_pci_core_err_handlers,
	.driver_managed_dma	= true,
};
module_pci_driver(vdb_pci_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vfio-pci variant driver exporting MMIO BARs as dma-bufs");
