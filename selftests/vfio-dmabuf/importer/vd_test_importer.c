// SPDX-License-Identifier: GPL-2.0-only
/*
 * vd_test_importer: a dma-buf importer for the selftests.
 *
 * It plays a dynamic importer the way an RDMA driver with on-demand paging
 * does: it attaches with allow_peer2peer and move_notify, maps under the
 * reservation lock, and on move_notify drops its mapping at once (or, with
 * VDTI_LAZY, only when told to, so tests can see revoke wait for it).
 *
 * Its DMA device is a PCI device it is bound to through driver_override
 * (the rig gives it QEMU's edu device), so mappings go through the IOMMU as
 * a NIC's would and mainline's peer-to-peer checks accept it. It never
 * starts a DMA: it counts segments and follows revokes.
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/vd_test_importer.h>

#include "dma_buf_compat.h"

VD_IMPORT_NS_DMA_BUF();

/*
 * The bound PCI device; one at a time. An importer file may outlive the
 * binding, so it is read under vdti_pdev_lock, and attach fails without it.
 */
static struct pci_dev *vdti_pdev;
static DEFINE_MUTEX(vdti_pdev_lock);

struct vdti_ctx {
	struct mutex lock;		/* serialises the ioctls */
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	struct pci_dev *pdev;		/* the attachment's device, referenced */
	struct pci_dev *watch;		/* VDTI_WATCH, referenced */
	bool lazy;
	/* under the dma-buf's resv lock */
	struct sg_table *sgt;
	struct vdti_status st;
};

/* Drop the mapping; resv lock held. */
static void vdti_unmap_locked(struct vdti_ctx *ctx)
{
	dma_resv_assert_held(ctx->dmabuf->resv);
	dma_buf_unmap_attachment(ctx->attach, ctx->sgt, DMA_BIDIRECTIONAL);
	ctx->sgt = NULL;
	ctx->st.mapped = 0;
	ctx->st.unmaps++;
}

/*
 * Whether the watched device can no longer answer at its BAR: memory decode
 * off or out of D0, read from the hardware. All ones (no device, link down)
 * says nothing.
 */
static bool vdti_watched_bar_gone(struct vdti_ctx *ctx)
{
	struct pci_dev *pdev = ctx->watch;
	u16 cmd, pmcsr = 0;

	if (!pdev || pci_read_config_word(pdev, PCI_COMMAND, &cmd) ||
	    PCI_POSSIBLE_ERROR(cmd))
		return false;
	if (pdev->pm_cap &&
	    pci_read_config_word(pdev, pdev->pm_cap + PCI_PM_CTRL, &pmcsr))
		return false;
	return !(cmd & PCI_COMMAND_MEMORY) ||
	       (pmcsr & PCI_PM_CTRL_STATE_MASK) != 0;
}

static void vdti_move_notify(struct dma_buf_attachment *attach)
{
	struct vdti_ctx *ctx = attach->importer_priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	ctx->st.move_notifies++;
	if (!ctx->sgt)
		return;
	ctx->st.invalidated++;
	if (vdti_watched_bar_gone(ctx))
		ctx->st.late_notifies++;
	if (!ctx->lazy)
		vdti_unmap_locked(ctx);
}

static const struct dma_buf_attach_ops vdti_p2p_ops = {
	.allow_peer2peer = true,
	VD_DMA_BUF_INVALIDATE_OP(vdti_move_notify),
};

static const struct dma_buf_attach_ops vdti_no_p2p_ops = {
	VD_DMA_BUF_INVALIDATE_OP(vdti_move_notify),
};

static int vdti_attach(struct vdti_ctx *ctx, struct vdti_attach __user *uarg)
{
	struct dma_buf_attachment *attach;
	struct vdti_attach arg;
	struct dma_buf *dmabuf;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~(VDTI_LAZY | VDTI_NO_P2P))
		return -EINVAL;
	if (ctx->attach)
		return -EBUSY;
	dmabuf = dma_buf_get(arg.fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	mutex_lock(&vdti_pdev_lock);
	ctx->pdev = pci_dev_get(vdti_pdev);
	mutex_unlock(&vdti_pdev_lock);
	attach = !ctx->pdev ? ERR_PTR(-ENODEV) :
		 dma_buf_dynamic_attach(dmabuf, &ctx->pdev->dev,
					arg.flags & VDTI_NO_P2P ?
					&vdti_no_p2p_ops : &vdti_p2p_ops, ctx);
	if (IS_ERR(attach)) {
		pci_dev_put(ctx->pdev);
		ctx->pdev = NULL;
		dma_buf_put(dmabuf);
		return PTR_ERR(attach);
	}
	ctx->dmabuf = dmabuf;
	ctx->attach = attach;
	ctx->lazy = arg.flags & VDTI_LAZY;
	return 0;
}

static int vdti_map(struct vdti_ctx *ctx)
{
	struct scatterlist *sg;
	struct sg_table *sgt;
	int ret, i;

	if (!ctx->attach)
		return -ENOTCONN;
	dma_resv_lock(ctx->dmabuf->resv, NULL);
	if (ctx->sgt) {
		ret = -EBUSY;
		goto out;
	}
	sgt = dma_buf_map_attachment(ctx->attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto out;
	}
	ctx->sgt = sgt;
	ctx->st.mapped = 1;
	ctx->st.maps++;
	ctx->st.nents = sgt->nents;
	ctx->st.dma_len = 0;
	ctx->st.max_seg = 0;
	for_each_sgtable_dma_sg(sgt, sg, i) {
		ctx->st.dma_len += sg_dma_len(sg);
		ctx->st.max_seg = max_t(u64, ctx->st.max_seg, sg_dma_len(sg));
	}
	ret = sgt->nents;
out:
	dma_resv_unlock(ctx->dmabuf->resv);
	return ret;
}

static int vdti_unmap(struct vdti_ctx *ctx)
{
	int ret = 0;

	if (!ctx->attach)
		return -ENOTCONN;
	dma_resv_lock(ctx->dmabuf->resv, NULL);
	if (ctx->sgt)
		vdti_unmap_locked(ctx);
	else
		ret = -ENOENT;
	dma_resv_unlock(ctx->dmabuf->resv);
	return ret;
}

static int vdti_pin(struct vdti_ctx *ctx, bool pin)
{
	int ret = 0;

	if (!ctx->attach)
		return -ENOTCONN;
	dma_resv_lock(ctx->dmabuf->resv, NULL);
	if (pin == !!ctx->st.pinned) {
		ret = pin ? -EBUSY : -ENOENT;
	} else if (pin) {
		ret = dma_buf_pin(ctx->attach);
		ctx->st.pinned = !ret;
	} else {
		dma_buf_unpin(ctx->attach);
		ctx->st.pinned = 0;
	}
	dma_resv_unlock(ctx->dmabuf->resv);
	return ret;
}

static int vdti_status(struct vdti_ctx *ctx, struct vdti_status __user *uarg)
{
	struct vdti_status st = {};

	if (ctx->attach) {
		dma_resv_lock(ctx->dmabuf->resv, NULL);
		st = ctx->st;
		dma_resv_unlock(ctx->dmabuf->resv);
	}
	return copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
}

static int vdti_watch(struct vdti_ctx *ctx, struct vdti_watch __user *uarg)
{
	struct vdti_watch arg;
	struct pci_dev *pdev;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (ctx->watch || arg.pad || arg.bus > 0xff || arg.devfn > 0xff)
		return -EINVAL;
	pdev = pci_get_domain_bus_and_slot(arg.domain, arg.bus, arg.devfn);
	if (!pdev)
		return -ENODEV;
	/* move_notify reads it under the resv lock */
	if (ctx->attach)
		dma_resv_lock(ctx->dmabuf->resv, NULL);
	ctx->watch = pdev;
	if (ctx->attach)
		dma_resv_unlock(ctx->dmabuf->resv);
	return 0;
}

static long vdti_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct vdti_ctx *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;
	long ret;

	mutex_lock(&ctx->lock);
	switch (cmd) {
	case VDTI_ATTACH:
		ret = vdti_attach(ctx, uarg);
		break;
	case VDTI_MAP:
		ret = vdti_map(ctx);
		break;
	case VDTI_UNMAP:
		ret = vdti_unmap(ctx);
		break;
	case VDTI_STATUS:
		ret = vdti_status(ctx, uarg);
		break;
	case VDTI_WATCH:
		ret = vdti_watch(ctx, uarg);
		break;
	case VDTI_PIN:
	case VDTI_UNPIN:
		ret = vdti_pin(ctx, cmd == VDTI_PIN);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&ctx->lock);
	return ret;
}

static int vdti_open(struct inode *inode, struct file *file)
{
	struct vdti_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->lock);
	file->private_data = ctx;
	return 0;
}

static int vdti_release(struct inode *inode, struct file *file)
{
	struct vdti_ctx *ctx = file->private_data;

	if (ctx->attach) {
		dma_resv_lock(ctx->dmabuf->resv, NULL);
		if (ctx->sgt)
			vdti_unmap_locked(ctx);
		if (ctx->st.pinned)
			dma_buf_unpin(ctx->attach);
		dma_resv_unlock(ctx->dmabuf->resv);
		dma_buf_detach(ctx->dmabuf, ctx->attach);
		dma_buf_put(ctx->dmabuf);
		pci_dev_put(ctx->pdev);
	}
	pci_dev_put(ctx->watch);
	mutex_destroy(&ctx->lock);
	kfree(ctx);
	return 0;
}

static const struct file_operations vdti_fops = {
	.owner		= THIS_MODULE,
	.open		= vdti_open,
	.release	= vdti_release,
	.unlocked_ioctl	= vdti_ioctl,
};

static struct miscdevice vdti_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "vd_test_importer",
	.fops	= &vdti_fops,
};

static int vdti_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	int ret;

	/* edu's DMA engine reaches 28 bits: map as the device could use it */
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(28));
	if (ret)
		return ret;
	mutex_lock(&vdti_pdev_lock);
	if (vdti_pdev) {
		ret = -EBUSY;
		goto out;
	}
	ret = misc_register(&vdti_misc);
	if (!ret)
		vdti_pdev = pdev;
out:
	mutex_unlock(&vdti_pdev_lock);
	return ret;
}

/*
 * Importer files may stay open: they keep their attachments, each holding a
 * reference on the pci_dev, and can attach nothing new.
 */
static void vdti_remove(struct pci_dev *pdev)
{
	mutex_lock(&vdti_pdev_lock);
	misc_deregister(&vdti_misc);
	vdti_pdev = NULL;
	mutex_unlock(&vdti_pdev_lock);
}

static const struct pci_device_id vdti_ids[] = {
	/* any device, only through driver_override */
	{ PCI_DEVICE(PCI_ANY_ID, PCI_ANY_ID),
	  .override_only = PCI_ID_F_VFIO_DRIVER_OVERRIDE },
	{}
};
MODULE_DEVICE_TABLE(pci, vdti_ids);

static struct pci_driver vdti_driver = {
	.name		= "vd_test_importer",
	.id_table	= vdti_ids,
	.probe		= vdti_probe,
	.remove		= vdti_remove,
};
module_pci_driver(vdti_driver);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vfio-dmabuf selftests: a dynamic dma-buf importer");
