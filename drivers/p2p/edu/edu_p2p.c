// SPDX-License-Identifier: GPL-2.0-only
/*
 * edu-p2p: QEMU's edu device as a dma-buf importer with a real DMA engine.
 *
 * It plays the RDMA NIC's part in the vfio-dmabuf story: it imports a
 * dma-buf exported from a VFIO device's BAR and has edu's DMA engine write
 * and read it, peer to peer, through the IOMMU. uAPI: <linux/edu_p2p.h>.
 *
 * It imports the way RDMA drivers do (enum in the uAPI header): dynamic
 * (mlx5 ODP), pinned (efa, bnxt_re), pinned but revocable (mainline's
 * revocable umem), and through ib_core's own umem code (ib_umem_dmabuf_*),
 * so an exporter can be tried against each.
 *
 * Every transfer runs with the dma-buf's reservation lock held, from the
 * map check to the end of the DMA. The exporter invalidates (move_notify)
 * under the same lock, and the dynamic and revocable modes drop their
 * mapping right there, so once an exporter's revoke has returned no DMA of
 * theirs can reach the BAR: the next transfer maps again (dynamic), or
 * fails with -ENODEV.
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

#include "dma_buf_compat.h"

#ifdef VD_HAVE_IB_UMEM_DMABUF_GET_PINNED_WITH_DMA_DEVICE
#include <linux/netdevice.h>
#include <net/net_namespace.h>
#include <rdma/ib_umem.h>
#include <rdma/ib_verbs.h>
#define EDU_P2P_HAVE_IB_UMEM	1
#else
#define EDU_P2P_HAVE_IB_UMEM	0
#endif
#define EDU_P2P_MODES	(BIT(EDU_P2P_DYNAMIC) | BIT(EDU_P2P_PINNED) |	\
			 BIT(EDU_P2P_PINNED_REVOCABLE) |		\
			 (EDU_P2P_HAVE_IB_UMEM ? BIT(EDU_P2P_IB_UMEM) : 0))

VD_IMPORT_NS_DMA_BUF();

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
	u32 mode;
	/* ours, except in IB_UMEM mode, where the umem holds both */
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	u64 base;			/* the window imported */
	u64 length;
#if EDU_P2P_HAVE_IB_UMEM
	struct ib_umem_dmabuf *umem;
	struct ib_device *ibdev;	/* registration held for the umem */
#endif
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

/* Give back the mapping, and the pin in the pinned modes. */
static void edu_p2p_unmap_locked(struct edu_p2p_ctx *ctx)
{
	dma_resv_assert_held(ctx->dmabuf->resv);
	dma_buf_unmap_attachment(ctx->attach, ctx->sgt, DMA_BIDIRECTIONAL);
	ctx->sgt = NULL;
	ctx->st.mapped = 0;
	if (ctx->st.pinned) {
		dma_buf_unpin(ctx->attach);
		ctx->st.pinned = 0;
	}
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

/*
 * Dynamic and pinned revocable: both give the mapping back when told. The
 * mode decides what follows (edu_p2p_mapping()): dynamic maps again on the
 * next transfer, pinned revocable never does.
 */
static const struct dma_buf_attach_ops edu_p2p_revocable_ops = {
	.allow_peer2peer = true,
	VD_DMA_BUF_INVALIDATE_OP(edu_p2p_move_notify),
};

#ifdef VD_HAVE_DMA_BUF_INVALIDATE_MAPPINGS
/* Pinned: no callback, which tells the dma-buf core it cannot be revoked. */
static const struct dma_buf_attach_ops edu_p2p_pinned_ops = {
	.allow_peer2peer = true,
};
#else
/*
 * Pinned, on kernels that require a callback: like ib_core's pinned umem,
 * it only complains. Its mapping stays in use.
 */
static void edu_p2p_pinned_notify(struct dma_buf_attachment *attach)
{
	struct edu_p2p_ctx *ctx = attach->importer_priv;

	ctx->st.invalidations++;
	dev_warn_ratelimited(&ctx->edu->pdev->dev,
			     "pinned importer told to move its mapping; it cannot\n");
}

static const struct dma_buf_attach_ops edu_p2p_pinned_ops = {
	.allow_peer2peer = true,
	.move_notify = edu_p2p_pinned_notify,
};
#endif

static int edu_p2p_map_locked(struct edu_p2p_ctx *ctx)
{
	struct sg_table *sgt;

	dma_resv_assert_held(ctx->dmabuf->resv);
	sgt = dma_buf_map_attachment(ctx->attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt))
		return PTR_ERR(sgt);
	ctx->sgt = sgt;
	ctx->st.mapped = 1;
	ctx->st.maps++;
	return 0;
}

/*
 * The sg table a transfer may use now, and where the window starts in it.
 * Dynamic mode maps again after an invalidation; the others map only at
 * import. -ENODEV while revoked.
 */
static int edu_p2p_mapping(struct edu_p2p_ctx *ctx, struct sg_table **sgt,
			   u64 *skip)
{
	int ret = 0;

	dma_resv_assert_held(ctx->dmabuf->resv);
	switch (ctx->mode) {
	case EDU_P2P_DYNAMIC:
		if (!ctx->sgt)
			ret = edu_p2p_map_locked(ctx);
		break;
#if EDU_P2P_HAVE_IB_UMEM
	case EDU_P2P_IB_UMEM:
		/* the umem's sg list is trimmed to the window's pages */
		if (ctx->umem->revoked || !ctx->umem->sgt) {
			ret = -ENODEV;
			break;
		}
		*sgt = &ctx->umem->umem.sgt_append.sgt;
		*skip = ib_umem_offset(&ctx->umem->umem);
		return 0;
#endif
	default:
		if (!ctx->sgt)
			ret = -ENODEV;
	}
	if (ret) {
		if (ret == -ENODEV)
			ctx->st.revoked++;
		return ret;
	}
	*sgt = ctx->sgt;
	*skip = ctx->base;
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
	struct sg_table *sgt;
	dma_addr_t addr;
	u64 avail, skip;
	int ret;

	dma_resv_lock(ctx->dmabuf->resv, NULL);
	ret = edu_p2p_mapping(ctx, &sgt, &skip);
	if (ret)
		goto out;
	ret = edu_p2p_lookup(sgt, skip + offset, &addr, &avail);
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
	    end > ctx->length)
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

/* DYNAMIC, PINNED, PINNED_REVOCABLE: our own attachment. */
static int edu_p2p_attach(struct edu_p2p_ctx *ctx, struct dma_buf *dmabuf)
{
	const struct dma_buf_attach_ops *ops = ctx->mode == EDU_P2P_PINNED ?
		&edu_p2p_pinned_ops : &edu_p2p_revocable_ops;
	struct dma_buf_attachment *attach;
	int ret;

	attach = dma_buf_dynamic_attach(dmabuf, &ctx->edu->pdev->dev, ops, ctx);
	if (IS_ERR(attach))
		return PTR_ERR(attach);
	ctx->dmabuf = dmabuf;
	ctx->attach = attach;
	if (ctx->mode == EDU_P2P_DYNAMIC)
		return 0;		/* maps on first use */

	/* Pin and map once, as efa and bnxt_re do. */
	dma_resv_lock(dmabuf->resv, NULL);
	ret = dma_buf_pin(attach);
	if (ret)
		goto err_unlock;
	ctx->st.pinned = 1;
	ret = edu_p2p_map_locked(ctx);
	if (ret)
		goto err_unpin;
	dma_resv_unlock(dmabuf->resv);
	return 0;

err_unpin:
	dma_buf_unpin(attach);
	ctx->st.pinned = 0;
err_unlock:
	dma_resv_unlock(dmabuf->resv);
	dma_buf_detach(dmabuf, attach);
	ctx->attach = NULL;
	ctx->dmabuf = NULL;
	return ret;
}

#if EDU_P2P_HAVE_IB_UMEM
/*
 * IB_UMEM: ib_core builds the attachment, pins and maps, for the RDMA device
 * on @netdev with this edu as the DMA device, as a hardware RDMA driver's
 * reg_user_mr_dmabuf() does.
 */
static int edu_p2p_umem(struct edu_p2p_ctx *ctx, int fd, const char *netdev)
{
	struct ib_umem_dmabuf *umem;
	struct net_device *ndev;
	struct ib_device *ibdev;

	ndev = dev_get_by_name(&init_net, netdev);
	if (!ndev)
		return -ENODEV;
	ibdev = ib_device_get_by_netdev(ndev, RDMA_DRIVER_UNKNOWN);
	dev_put(ndev);
	if (!ibdev)
		return -ENODEV;
	umem = ib_umem_dmabuf_get_pinned_with_dma_device(ibdev, &ctx->edu->pdev->dev,
							 ctx->base, ctx->length, fd,
							 IB_ACCESS_LOCAL_WRITE |
							 IB_ACCESS_REMOTE_WRITE |
							 IB_ACCESS_REMOTE_READ);
	if (IS_ERR(umem)) {
		ib_device_put(ibdev);
		return PTR_ERR(umem);
	}
	ctx->umem = umem;
	ctx->ibdev = ibdev;
	ctx->attach = umem->attach;
	ctx->dmabuf = umem->attach->dmabuf;
	ctx->st.mapped = 1;
	ctx->st.pinned = 1;
	ctx->st.maps = 1;
	return 0;
}
#endif

static int edu_p2p_import(struct edu_p2p_ctx *ctx, const struct edu_p2p_import __user *uarg)
{
	struct edu_p2p_import imp;
	struct dma_buf *dmabuf;
	u64 end;
	int ret;

	if (copy_from_user(&imp, uarg, sizeof(imp)))
		return -EFAULT;
	if (imp.mode >= EDU_P2P_NR_MODES)
		return -EINVAL;
	if (!(EDU_P2P_MODES & BIT(imp.mode)))
		return -EPROTONOSUPPORT;
	if (imp.mode == EDU_P2P_IB_UMEM &&
	    strnlen(imp.rdma_netdev, sizeof(imp.rdma_netdev)) == sizeof(imp.rdma_netdev))
		return -EINVAL;
	if (ctx->attach)
		return -EBUSY;
	dmabuf = dma_buf_get(imp.fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	if (!imp.length && imp.offset < dmabuf->size)
		imp.length = dmabuf->size - imp.offset;
	if (!imp.length || check_add_overflow(imp.offset, imp.length, &end) ||
	    end > dmabuf->size) {
		ret = -EINVAL;
		goto out_put;
	}
	ctx->mode = imp.mode;
	ctx->base = imp.offset;
	ctx->length = imp.length;
	ctx->st.mode = imp.mode;
#if EDU_P2P_HAVE_IB_UMEM
	if (imp.mode == EDU_P2P_IB_UMEM) {
		/* the umem takes its own reference on the dma-buf */
		ret = edu_p2p_umem(ctx, imp.fd, imp.rdma_netdev);
		goto out_put;
	}
#endif
	ret = edu_p2p_attach(ctx, dmabuf);
	if (!ret)
		return 0;		/* ctx keeps the reference */
out_put:
	if (ret)
		memset(&ctx->st, 0, sizeof(ctx->st));
	dma_buf_put(dmabuf);
	return ret;
}

static int edu_p2p_status(struct edu_p2p_ctx *ctx, struct edu_p2p_status __user *uarg)
{
	struct edu_p2p_status st = {};

	if (ctx->attach) {
		dma_resv_lock(ctx->dmabuf->resv, NULL);
		st = ctx->st;
#if EDU_P2P_HAVE_IB_UMEM
		if (ctx->umem) {
			st.mapped = !ctx->umem->revoked;
			st.pinned = st.mapped;
		}
#endif
		dma_resv_unlock(ctx->dmabuf->resv);
	}
	st.modes = EDU_P2P_MODES;
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

/* Give up the import: unmap, unpin, detach, drop the dma-buf. */
static void edu_p2p_unimport(struct edu_p2p_ctx *ctx)
{
#if EDU_P2P_HAVE_IB_UMEM
	if (ctx->umem) {
		ib_umem_release(&ctx->umem->umem);
		ib_device_put(ctx->ibdev);
		return;
	}
#endif
	dma_resv_lock(ctx->dmabuf->resv, NULL);
	if (ctx->sgt)
		edu_p2p_unmap_locked(ctx);
	dma_resv_unlock(ctx->dmabuf->resv);
	dma_buf_detach(ctx->dmabuf, ctx->attach);
	dma_buf_put(ctx->dmabuf);
}

static int edu_p2p_release(struct inode *inode, struct file *file)
{
	struct edu_p2p_ctx *ctx = file->private_data;

	if (ctx->attach)
		edu_p2p_unimport(ctx);
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
