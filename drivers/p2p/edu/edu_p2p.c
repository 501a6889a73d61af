// SPDX-License-Identifier: GPL-2.0-only
/*
 * edu-p2p: QEMU's edu device as a dma-buf importer with a real DMA engine.
 *
 * It plays the RDMA NIC's part in the vfio-dmabuf story: it imports a
 * dma-buf exported from a VFIO device's BAR and has edu's DMA engine write
 * and read it, peer to peer, through the IOMMU. uAPI: <linux/edu_p2p.h>.
 *
 * Every transfer runs with the dma-buf's reservation lock held, from the
 * map check to the end of the DMA. The exporter invalidates (move_notify)
 * under the same lock, and this importer drops its mapping right there, so
 * once an exporter's revoke has returned no DMA of ours can reach the BAR:
 * the next transfer maps again, or fails with -ENODEV while revoked.
 *
 * Lock order: edu->dma_lock (the one DMA engine and its bounce buffer) ->
 * the dma-buf's resv lock.
 *
 * Lifetime: each open file holds a reference on struct edu_p2p. Unbinding
 * the device marks it removed under dma_lock (transfers then fail with
 * -ENODEV) and tears the hardware down; the last file frees the struct.
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/fs.h>
#include <linux/io.h>
#include <linux/iopoll.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/edu_p2p.h>

#include "compat_probed.h"

#ifdef VD_HAVE_MODULE_IMPORT_NS_IDENT
MODULE_IMPORT_NS(DMA_BUF);
#else
MODULE_IMPORT_NS("DMA_BUF");
#endif

/* edu registers (QEMU docs/specs/edu.rst) */
#define EDU_IDENT		0x00
#define EDU_DMA_SRC		0x80
#define EDU_DMA_DST		0x88
#define EDU_DMA_COUNT		0x90
#define EDU_DMA_CMD		0x98
#define  EDU_DMA_RUN		BIT(0)
#define  EDU_DMA_TO_PCI		BIT(1)	/* edu buffer -> bus address */
#define EDU_BUF_ADDR		0x40000	/* edu's buffer, in its own space */
#define EDU_DMA_MASK_BITS	28
/*
 * edu's buffer is 4 KiB, and QEMU 7.2 aborts on a 4096-byte DMA (an
 * off-by-one in its range check): move at most half of it at a time.
 */
#define EDU_CHUNK		2048
#define EDU_DMA_TIMEOUT_US	(5 * USEC_PER_SEC)

struct edu_p2p {
	struct kref ref;		/* the binding, and each open file */
	struct pci_dev *pdev;		/* referenced until the last put */
	void __iomem *regs;
	struct miscdevice misc;
	struct mutex dma_lock;		/* the engine, the bounce buffer, removed */
	bool removed;
	void *bounce;
	dma_addr_t bounce_dma;
};

static void edu_p2p_free(struct kref *ref)
{
	struct edu_p2p *edu = container_of(ref, struct edu_p2p, ref);

	mutex_destroy(&edu->dma_lock);
	pci_dev_put(edu->pdev);
	kfree(edu);
}

/* One importer: one open file of /dev/edu-p2p. */
struct edu_p2p_ctx {
	struct edu_p2p *edu;
	struct mutex lock;		/* import vs transfers */
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	/* under the dma-buf's resv lock */
	struct sg_table *sgt;
	struct edu_p2p_status st;
};

static struct edu_p2p *edu_p2p_dev;	/* one edu at a time */
static DEFINE_MUTEX(edu_p2p_dev_lock);

static int edu_dma(struct edu_p2p *edu, u64 src, u64 dst, u64 count, bool to_pci)
{
	u64 cmd;

	lockdep_assert_held(&edu->dma_lock);

	writeq(src, edu->regs + EDU_DMA_SRC);
	writeq(dst, edu->regs + EDU_DMA_DST);
	writeq(count, edu->regs + EDU_DMA_COUNT);
	writeq(EDU_DMA_RUN | (to_pci ? EDU_DMA_TO_PCI : 0), edu->regs + EDU_DMA_CMD);
	return readq_poll_timeout(edu->regs + EDU_DMA_CMD, cmd, !(cmd & EDU_DMA_RUN),
				  1000, EDU_DMA_TIMEOUT_US);
}

static void edu_p2p_unmap_locked(struct edu_p2p_ctx *ctx)
{
	dma_resv_assert_held(ctx->dmabuf->resv);
	dma_buf_unmap_attachment(ctx->attach, ctx->sgt, DMA_BIDIRECTIONAL);
	ctx->sgt = NULL;
	ctx->st.mapped = 0;
}

/*
 * The exporter takes the memory away (or moves it): stop using it. No DMA
 * is in flight, since transfers hold the resv lock we are called under.
 */
static void edu_p2p_move_notify(struct dma_buf_attachment *attach)
{
	struct edu_p2p_ctx *ctx = attach->importer_priv;

	ctx->st.invalidations++;
	if (ctx->sgt)
		edu_p2p_unmap_locked(ctx);
}

#ifdef VD_HAVE_DMA_BUF_INVALIDATE_MAPPINGS
#define EDU_P2P_NOTIFY	.invalidate_mappings = edu_p2p_move_notify
#else
#define EDU_P2P_NOTIFY	.move_notify = edu_p2p_move_notify
#endif

static const struct dma_buf_attach_ops edu_p2p_dynamic_ops = {
	.allow_peer2peer = true,
	EDU_P2P_NOTIFY,
};

/* Map if the last mapping was invalidated; -ENODEV while revoked. */
static int edu_p2p_ensure_mapped(struct edu_p2p_ctx *ctx)
{
	struct sg_table *sgt;

	dma_resv_assert_held(ctx->dmabuf->resv);
	if (ctx->sgt)
		return 0;
	sgt = dma_buf_map_attachment(ctx->attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt)) {
		if (PTR_ERR(sgt) == -ENODEV)
			ctx->st.revoked++;
		return PTR_ERR(sgt);
	}
	ctx->sgt = sgt;
	ctx->st.mapped = 1;
	ctx->st.maps++;
	return 0;
}

/* Bus address of @offset in the mapping, and how much follows it contiguously. */
static int edu_p2p_lookup(struct sg_table *sgt, u64 offset, dma_addr_t *addr,
			  u64 *avail)
{
	struct scatterlist *sg;
	int i;

	for_each_sgtable_dma_sg(sgt, sg, i) {
		if (offset < sg_dma_len(sg)) {
			*addr = sg_dma_address(sg) + offset;
			*avail = sg_dma_len(sg) - offset;
			return 0;
		}
		offset -= sg_dma_len(sg);
	}
	return -EINVAL;
}

/* One chunk, edu->dma_lock held: the bounce buffer <-> the dma-buf. */
static int edu_p2p_chunk(struct edu_p2p_ctx *ctx, u64 offset, u64 *len,
			 bool to_dmabuf)
{
	struct edu_p2p *edu = ctx->edu;
	dma_addr_t addr;
	u64 avail;
	int ret;

	dma_resv_lock(ctx->dmabuf->resv, NULL);
	ret = edu_p2p_ensure_mapped(ctx);
	if (ret)
		goto out;
	ret = edu_p2p_lookup(ctx->sgt, offset, &addr, &avail);
	if (ret)
		goto out;
	*len = min(*len, avail);
	if (to_dmabuf)
		ret = edu_dma(edu, edu->bounce_dma, EDU_BUF_ADDR, *len, false) ?:
		      edu_dma(edu, EDU_BUF_ADDR, addr, *len, true);
	else
		ret = edu_dma(edu, addr, EDU_BUF_ADDR, *len, false) ?:
		      edu_dma(edu, EDU_BUF_ADDR, edu->bounce_dma, *len, true);
	if (!ret)
		ctx->st.dma_bytes += *len;
out:
	dma_resv_unlock(ctx->dmabuf->resv);
	return ret;
}

static int edu_p2p_xfer(struct edu_p2p_ctx *ctx, const struct edu_p2p_xfer __user *uarg,
			bool to_dmabuf)
{
	struct edu_p2p *edu = ctx->edu;
	struct edu_p2p_xfer x;
	u8 __user *ubuf;
	u64 end, done;
	int ret = 0;

	if (copy_from_user(&x, uarg, sizeof(x)))
		return -EFAULT;
	if (!ctx->attach)
		return -ENOTCONN;
	if (!x.len || check_add_overflow(x.offset, x.len, &end) ||
	    end > ctx->dmabuf->size)
		return -EINVAL;
	ubuf = u64_to_user_ptr(x.buf);

	for (done = 0; done < x.len && !ret; ) {
		u64 len = min_t(u64, x.len - done, EDU_CHUNK);

		mutex_lock(&edu->dma_lock);
		if (edu->removed)
			ret = -ENODEV;
		else if (to_dmabuf && copy_from_user(edu->bounce, ubuf + done, len))
			ret = -EFAULT;
		if (!ret)
			ret = edu_p2p_chunk(ctx, x.offset + done, &len, to_dmabuf);
		if (!ret && !to_dmabuf && copy_to_user(ubuf + done, edu->bounce, len))
			ret = -EFAULT;
		mutex_unlock(&edu->dma_lock);
		done += len;
		cond_resched();
	}
	return ret;
}

static int edu_p2p_import(struct edu_p2p_ctx *ctx, const struct edu_p2p_import __user *uarg)
{
	struct dma_buf_attachment *attach;
	struct edu_p2p_import imp;
	struct dma_buf *dmabuf;

	if (copy_from_user(&imp, uarg, sizeof(imp)))
		return -EFAULT;
	if (imp.mode != EDU_P2P_DYNAMIC)
		return -EINVAL;
	if (ctx->attach)
		return -EBUSY;
	dmabuf = dma_buf_get(imp.fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	attach = dma_buf_dynamic_attach(dmabuf, &ctx->edu->pdev->dev,
					&edu_p2p_dynamic_ops, ctx);
	if (IS_ERR(attach)) {
		dma_buf_put(dmabuf);
		return PTR_ERR(attach);
	}
	ctx->dmabuf = dmabuf;
	ctx->attach = attach;
	ctx->st.mode = imp.mode;
	return 0;
}

static int edu_p2p_status(struct edu_p2p_ctx *ctx, struct edu_p2p_status __user *uarg)
{
	struct edu_p2p_status st = {};

	if (ctx->attach) {
		dma_resv_lock(ctx->dmabuf->resv, NULL);
		st = ctx->st;
		dma_resv_unlock(ctx->dmabuf->resv);
	}
	return copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
}

static long edu_p2p_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct edu_p2p_ctx *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;
	long ret;

	mutex_lock(&ctx->lock);
	switch (cmd) {
	case EDU_P2P_IMPORT:
		ret = edu_p2p_import(ctx, uarg);
		break;
	case EDU_P2P_WRITE:
		ret = edu_p2p_xfer(ctx, uarg, true);
		break;
	case EDU_P2P_READ:
		ret = edu_p2p_xfer(ctx, uarg, false);
		break;
	case EDU_P2P_STATUS:
		ret = edu_p2p_status(ctx, uarg);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&ctx->lock);
	return ret;
}

static int edu_p2p_open(struct inode *inode, struct file *file)
{
	struct edu_p2p_ctx *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->edu = container_of(file->private_data, struct edu_p2p, misc);
	kref_get(&ctx->edu->ref);
	mutex_init(&ctx->lock);
	file->private_data = ctx;
	return 0;
}

static int edu_p2p_release(struct inode *inode, struct file *file)
{
	struct edu_p2p_ctx *ctx = file->private_data;

	if (ctx->attach) {
		dma_resv_lock(ctx->dmabuf->resv, NULL);
		if (ctx->sgt)
			edu_p2p_unmap_locked(ctx);
		dma_resv_unlock(ctx->dmabuf->resv);
		dma_buf_detach(ctx->dmabuf, ctx->attach);
		dma_buf_put(ctx->dmabuf);
	}
	kref_put(&ctx->edu->ref, edu_p2p_free);
	mutex_destroy(&ctx->lock);
	kfree(ctx);
	return 0;
}

static const struct file_operations edu_p2p_fops = {
	.owner		= THIS_MODULE,
	.open		= edu_p2p_open,
	.release	= edu_p2p_release,
	.unlocked_ioctl	= edu_p2p_ioctl,
};

static int edu_p2p_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct edu_p2p *edu;
	int ret;

	edu = kzalloc(sizeof(*edu), GFP_KERNEL);
	if (!edu)
		return -ENOMEM;
	kref_init(&edu->ref);
	edu->pdev = pci_dev_get(pdev);
	mutex_init(&edu->dma_lock);

	ret = pci_enable_device(pdev);
	if (ret)
		goto err_put;
	ret = pci_request_region(pdev, 0, "edu-p2p");
	if (ret)
		goto err_disable;
	edu->regs = pci_iomap(pdev, 0, 0);
	if (!edu->regs) {
		ret = -ENOMEM;
		goto err_release;
	}
	if ((readl(edu->regs + EDU_IDENT) & 0xff) != 0xed) {
		ret = -ENODEV;
		goto err_unmap;
	}
	/* edu's engine reaches 28 bits; the IOMMU puts the BAR below that */
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(EDU_DMA_MASK_BITS));
	if (ret)
		goto err_unmap;
	edu->bounce = dma_alloc_coherent(&pdev->dev, EDU_CHUNK, &edu->bounce_dma,
					 GFP_KERNEL);
	if (!edu->bounce) {
		ret = -ENOMEM;
		goto err_unmap;
	}
	pci_set_master(pdev);

	mutex_lock(&edu_p2p_dev_lock);
	if (edu_p2p_dev) {
		ret = -EBUSY;
		goto err_unlock;
	}
	edu->misc.minor = MISC_DYNAMIC_MINOR;
	edu->misc.name = "edu-p2p";
	edu->misc.fops = &edu_p2p_fops;
	edu->misc.parent = &pdev->dev;
	ret = misc_register(&edu->misc);
	if (ret)
		goto err_unlock;
	edu_p2p_dev = edu;
	mutex_unlock(&edu_p2p_dev_lock);
	pci_set_drvdata(pdev, edu);
	return 0;

err_unlock:
	mutex_unlock(&edu_p2p_dev_lock);
	pci_clear_master(pdev);
	dma_free_coherent(&pdev->dev, EDU_CHUNK, edu->bounce, edu->bounce_dma);
err_unmap:
	pci_iounmap(pdev, edu->regs);
err_release:
	pci_release_region(pdev, 0);
err_disable:
	pci_disable_device(pdev);
err_put:
	kref_put(&edu->ref, edu_p2p_free);
	return ret;
}

static void edu_p2p_remove(struct pci_dev *pdev)
{
	struct edu_p2p *edu = pci_get_drvdata(pdev);

	mutex_lock(&edu_p2p_dev_lock);
	misc_deregister(&edu->misc);
	edu_p2p_dev = NULL;
	mutex_unlock(&edu_p2p_dev_lock);
	/* No transfer starts after this; one in flight has finished. */
	mutex_lock(&edu->dma_lock);
	edu->removed = true;
	mutex_unlock(&edu->dma_lock);
	pci_clear_master(pdev);
	dma_free_coherent(&pdev->dev, EDU_CHUNK, edu->bounce, edu->bounce_dma);
	pci_iounmap(pdev, edu->regs);
	pci_release_region(pdev, 0);
	pci_disable_device(pdev);
	kref_put(&edu->ref, edu_p2p_free);
}

static const struct pci_device_id edu_p2p_ids[] = {
	/* bound through driver_override only: the rig has more than one edu */
	{ PCI_DEVICE(0x1234, 0x11e8), .override_only = PCI_ID_F_VFIO_DRIVER_OVERRIDE },
	{}
};
MODULE_DEVICE_TABLE(pci, edu_p2p_ids);

static struct pci_driver edu_p2p_driver = {
	.name		= "edu-p2p",
	.id_table	= edu_p2p_ids,
	.probe		= edu_p2p_probe,
	.remove		= edu_p2p_remove,
};
module_pci_driver(edu_p2p_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("QEMU edu DMA engine as a peer-to-peer dma-buf importer");
