// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO_DEVICE_FEATURE_DMA_BUF: export ranges of a PCI BAR as a dma-buf.
 *
 * Who keeps what alive
 *   dma-buf       -> struct vdb_dmabuf: freed by ->release, never before.
 *   dma-buf       -> this module: exp_info.owner.
 *   vdb_dmabuf    -> vdb_device: counted in vdb->nr_exports while priv->vdb
 *		      is set. Exactly one of device close and ->release takes
 *		      priv->vdb (xchg) and drops that count; remove() waits
 *		      for the count, so priv->vdb never dangles.
 *   vdb_dmabuf    -> the exporting pci_dev: a reference (pci_dev_get) from
 *		      export to ->release: attach and map work out an
 *		      importer's peer-to-peer route from it, and may run
 *		      while close takes priv->vdb.
 *   device list   -> vdb_dmabuf: not counted. An entry stays alive while it
 *		      is listed, because ->release unlinks it under
 *		      dmabufs_lock before freeing it (see vdb_dmabuf_release()
 *		      and vdb_for_each_dmabuf(), the one walk of the list).
 *
 *   Nothing here reads dmabuf->file after export. A dma-buf's ->release is
 *   the d_release of its dentry, and __fput() frees the struct file right
 *   after its dput(): when something else holds the dentry (a readlink of
 *   /proc/PID/fd/N stalled in copy_to_user), the file is freed, and its slot
 *   reused, while the dma-buf is still listed here. So the walk takes no
 *   file reference (it needs none: the list lock keeps each entry alive),
 *   and the inode number debugfs prints is read from priv->inode, which
 *   the dma-buf holds (below).
 *   importer map  -> BAR access: each sg_table handed out is counted in
 *		      priv->nr_mapped and revoke waits for the count to drop
 *		      to zero, so when revoke returns no importer holds a DMA
 *		      address into the BAR.
 *   vdb_dmabuf    -> the dma-buf's inode: a reference (ihold) from export
 *		      to ->release, for the address_space a revoke zaps. A
 *		      revoke that saw a CPU mapping may zap after the last one
 *		      went and its file's last fput dropped the dentry; the
 *		      dentry drops its inode before d_release calls ->release
 *		      (which then waits for dmabufs_lock), so without ours
 *		      that zap would walk a freed inode.
 *   CPU mapping   -> the dma-buf: the vma holds its file (and so priv) until
 *		      the vma is gone; ->fault reads nothing but priv.
 *   CPU mapping   -> BAR access: every page table entry is inserted under
 *		      the resv lock while priv->revoked is false, and revoke
 *		      zaps them all after setting it, before it returns.
 *
 * When MMIO goes away
 *   Every dma-buf of a device is revoked while the BAR is out of reach and
 *   re-granted when it is back. "Out of reach" is vdb_mmio_usable(): memory
 *   decode off, the device out of D0 or in vfio's low-power state, or a hold
 *   (a revoke in force). A hold is taken by a trigger (enum vdb_trigger):
 *   a reset (reset_prepare..reset_done, whoever started it:
 *   VFIO_DEVICE_RESET, hot reset, FLR through config space, a sibling's bus
 *   reset, sysfs), a config write of the command or PM control register
 *   (taken before the write reaches the device), a low-power entry, AER
 *   (error_detected until the hardware is seen to decode memory again),
 *   device close, driver remove. Every trigger goes through
 *   vdb_dmabuf_hold(), vdb_dmabuf_unhold() or vdb_dmabuf_sync(); only
 *   vdb_dmabuf_update() moves a dma-buf. A runtime resume that ends vfio's
 *   low-power state (a wake-up) syncs too.
 *
 * Lock order, outermost first
 *   vdev->memory_lock	(vfio_pci_core) held for write by the core around
 *			resets it starts
 *   device_lock	(driver core, pci_dev_lock) around resets
 *   vdb->dmabufs_lock	the list, the holds, each priv->vdb, every revoke
 *			and re-grant. A mutex of its own, not memory_lock,
 *			because reset_prepare runs both with and without the
 *			core holding memory_lock.
 *   dmabuf->resv	priv->revoked (written under dmabufs_lock + resv,
 *			read under either), the map/unmap pair and each
 *			attachment's pin and map counts (attach->priv); the
 *			dma-buf core holds it around pin, map and unmap.
 *   i_mmap_rwsem, page table locks
 *			the zap of CPU mappings, under dmabufs_lock (not
 *			under resv).
 *
 * CPU mappings add mmap_lock above all of these: ->fault runs under it (or
 * under the vma's own lock, which nests the same way) and takes resv, and
 * nothing here takes mmap_lock, or touches user memory, under any lock of
 * ours. vfio_pci_core already orders mmap_lock before memory_lock (its own
 * BAR fault), and the dma-buf core tells lockdep that mmap_lock comes
 * before resv and resv before i_mmap_rwsem.
 */
#include <linux/bitfield.h>
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/fs.h>
#include <linux/mm.h>	/* before huge_mm.h, which needs it */
#include <linux/huge_mm.h>
#include <linux/overflow.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/pfn_t.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/vfio_dmabuf.h>

#include "compat.h"
#include "vfio_pci_dmabuf.h"

VD_IMPORT_NS_DMA_BUF();

/* Largest sg segment: sg lengths are unsigned int; keep segments page-sized. */
#define VDB_MAX_SEG		ALIGN_DOWN(UINT_MAX, PAGE_SIZE)
/* How often a revoke or a remove that keeps waiting says so. */
#define VDB_WAIT_WARN		(10 * HZ)
/*
 * open(2) flags a dma-buf fd can take; anything else is refused. O_LARGEFILE
 * is what fcntl(F_GETFL) reports on 64-bit: a caller may pass it back.
 */
#define VDB_OPEN_FLAGS		(O_CLOEXEC | O_ACCMODE | O_NONBLOCK | O_LARGEFILE)

struct vdb_range {
	phys_addr_t paddr;
	u64 len;
	u64 start;			/* offset in the dma-buf */
};

struct vdb_dmabuf {
	struct dma_buf *dmabuf;
	/*
	 * Set at export; taken (xchg to NULL) by whichever of device close
	 * and ->release comes first, which then drops the device count.
	 */
	struct vdb_device *vdb;
	struct list_head link;		/* in vdb->dmabufs, dmabufs_lock */
	/*
	 * The exporting function, referenced from export to ->release: the
	 * peer-to-peer route of an importer is computed from it, also while
	 * close takes priv->vdb.
	 */
	struct pci_dev *pdev;
	/*
	 * The dma-buf's inode, referenced until ->release: see the top. Its
	 * number names the dma-buf in debugfs and the kernel log.
	 */
	struct inode *inode;
	bool revoked;
	atomic_t nr_mapped;		/* sg tables handed out */
	atomic_t nr_vmas;		/* CPU mappings, in any process */
	u64 zaps;			/* revokes that zapped some; dmabufs_lock */
	/* Entries CPU faults mapped: PTEs, PMDs, PUDs; resv. */
	u64 faults[3];
	wait_queue_head_t unmap_wq;	/* nr_mapped reached zero */
	u32 region_index;
	u32 nr_ranges;
	struct vdb_range ranges[];
};

/* One sg table handed to an importer, with the DMA address of each range. */
struct vdb_mapping {
	struct sg_table sgt;
	bool bus_addr;			/* VDB_P2P_BUS: nothing to unmap */
	dma_addr_t addrs[];
};

/*
 * The device's dma-bufs, for vdb_for_each_dmabuf(), which evaluates this at
 * every step: the walk is valid only while dmabufs_lock is held throughout.
 */
static struct list_head *vdb_dmabufs(struct vdb_device *vdb)
{
	lockdep_assert_held(&vdb->dmabufs_lock);
	return &vdb->dmabufs;
}

/*
 * Walk the device's dma-bufs, with dmabufs_lock held: the only way the list
 * is walked. A listed entry is alive: ->release frees it only once it is
 * unlinked, which ->release does under dmabufs_lock (or close did before,
 * under it too), and the dma-buf core frees its dma_buf and resv only after
 * ->release returns. So the walk takes no reference on the dma-buf (one
 * could be the last, dropped under the lock ->release takes) and never
 * reads dmabuf->file, which may be freed, and its slot reused, while the
 * entry is listed.
 *
 * The body may unlink the entry it is at (@tmp holds the next one), and no
 * other; the lock keeps everyone else from unlinking meanwhile.
 */
#define vdb_for_each_dmabuf(vdb, priv, tmp) \
	list_for_each_entry_safe(priv, tmp, vdb_dmabufs(vdb), link)

/*
 * Whether importers may reach the BAR now: no hold, memory decode on, the
 * device in D0 and not in vfio's low-power state.
 *
 * The device state is read without memory_lock. That is enough because
 * every write that may turn MMIO off takes a hold before it and ends it
 * after it, and every write that turns it on syncs after it: a stale read here is
 * always followed by an update that reads the settled state.
 */
static bool vdb_mmio_usable(struct vdb_device *vdb)
{
	struct vfio_pci_core_device *vdev = &vdb->core;
	struct pci_dev *pdev = vdev->pdev;
	__le16 cmd;
	int i;

	lockdep_assert_held(&vdb->dmabufs_lock);

	for (i = 0; i < VDB_NR_TRIGGERS; i++)
		if (vdb->holds[i])
			return false;
	cmd = READ_ONCE(*(__le16 *)&vdev->vconfig[PCI_COMMAND]);
	/* D1 and D2 are as far as D3hot: config cycles only */
	return !vdev->pm_runtime_engaged && pdev->current_state == PCI_D0 &&
	       (pdev->no_command_memory ||
		(le16_to_cpu(cmd) & PCI_COMMAND_MEMORY));
}

/*
 * Whether the hardware itself decodes memory now. AER recovery may reset the
 * link (a secondary bus reset, DPC) without the reset hooks and without
 * restoring config space: vconfig still says memory decode is on while the
 * device has it off and its BARs unprogrammed. A device that is gone, or
 * whose link is down, reads all ones.
 */
static bool vdb_hw_decodes_memory(struct vdb_device *vdb)
{
	struct pci_dev *pdev = vdb->core.pdev;
	u16 cmd;

	if (pci_read_config_word(pdev, PCI_COMMAND, &cmd) ||
	    PCI_POSSIBLE_ERROR(cmd))
		return false;
	return pdev->no_command_memory || (cmd & PCI_COMMAND_MEMORY);
}

/*
 * The AER hold ends once the device is seen to decode memory again: at
 * resume when recovery left it so; otherwise, after a recovery that failed
 * or reset the link behind vfio's back, at the first reset, command or PM
 * control write, low-power exit or wake-up after which it does (a command
 * write with memory decode on makes vfio restore the BARs). Close ends it
 * for good, and open starts without it.
 */
static void vdb_aer_settle(struct vdb_device *vdb)
{
	lockdep_assert_held(&vdb->dmabufs_lock);

	if (vdb->holds[VDB_TRIGGER_AER] && vdb_hw_decodes_memory(vdb))
		vdb->holds[VDB_TRIGGER_AER] = 0;
}

/*
 * Importers that pin
 *
 * A revoke must end every importer's access, so an importer has to give its
 * mappings back when told (move_notify). One that pins (dma_buf_pin(), as
 * ib_umem_dmabuf_get_pinned() and the RDMA drivers built on it do) keeps its
 * mapping across move_notify, and a revoke would wait for it forever. Those
 * importers are refused with -EOPNOTSUPP, as mainline refuses them.
 *
 * Mainline tells them apart at attach time (dma_buf_attach_revocable()); 6.x
 * has no such test, so ours refuses at their first map instead: it counts
 * the pins and mappings of each attachment, and a map made while the
 * attachment has a pin of its own fails. Without CONFIG_DMABUF_MOVE_NOTIFY
 * (Debian) the dma-buf core itself pins right before every map and unpins
 * right after every unmap; that pin belongs to the map and is not counted
 * against the importer. With it, the core never pins, so every pin is the
 * importer's and is refused at once.
 *
 * A revoke waits for mappings only; a pin without a mapping reaches nothing.
 *
 * The two counts of an attachment live in attach->priv itself, half of the
 * word each, under the resv lock: no allocation per attachment. The dma-buf
 * core allocates the attachment zeroed, so it starts with none of either.
 * A count that would overflow its half is refused, never wrapped.
 */
#define VDB_ATTACH_PINS		GENMASK(BITS_PER_LONG / 2 - 1, 0)
#define VDB_ATTACH_MAPS		GENMASK(BITS_PER_LONG - 1, BITS_PER_LONG / 2)

static unsigned long vdb_attach_pins(struct dma_buf_attachment *attach)
{
	dma_resv_assert_held(attach->dmabuf->resv);
	return FIELD_GET(VDB_ATTACH_PINS, (unsigned long)attach->priv);
}

static unsigned long vdb_attach_maps(struct dma_buf_attachment *attach)
{
	dma_resv_assert_held(attach->dmabuf->resv);
	return FIELD_GET(VDB_ATTACH_MAPS, (unsigned long)attach->priv);
}

/* Both counts must fit: the callers check before they count one more. */
static void vdb_attach_set(struct dma_buf_attachment *attach,
			   unsigned long pins, unsigned long maps)
{
	dma_resv_assert_held(attach->dmabuf->resv);
	attach->priv = (void *)(FIELD_PREP(VDB_ATTACH_PINS, pins) |
				FIELD_PREP(VDB_ATTACH_MAPS, maps));
}

/* Pins the dma-buf core takes itself, one per map in progress or made. */
static unsigned long vdb_core_pins(struct dma_buf_attachment *attach)
{
	if (IS_ENABLED(CONFIG_DMABUF_MOVE_NOTIFY))
		return 0;
	return vdb_attach_maps(attach) + 1;
}

/*
 * Peer-to-peer reachability
 *
 * An importer's DMA reaches the BAR through the PCI hierarchy. With
 * CONFIG_PCI_P2PDMA the PCI core says whether it can
 * (pci_p2pdma_distance_many()); how it gets there it keeps to itself on
 * 6.x, so vdb_p2p_route() works it out by the same rule:
 *  - the importer and the exporter are below one bridge under the host
 *    bridge (a switch, a root port), and no port on either way up to it
 *    redirects peer requests upstream (ACS P2P Request/Completion Redirect,
 *    Egress Control): the bridge routes the request, and the importer is
 *    given the BAR's PCI bus address, not an IOMMU mapping (VDB_P2P_BUS);
 *  - otherwise through the host bridge, where the PCI core knows it routes
 *    peer to peer (AMD Zen CPUs, a list of Intel bridges): the CPU address
 *    mapped for the importer's device (VDB_P2P_HOST_BRIDGE);
 *  - otherwise not at all.
 * Mainline refuses the last at map, with -EINVAL. Ours refuses at attach,
 * with the same errno and one line in the kernel log: the topology does not
 * change while both devices exist, so the importer learns it before it
 * builds anything on the attachment, and is told once, not at every map.
 * An importer device that is no PCI function is refused likewise, as
 * mainline's pci_p2pdma_map_type() refuses it.
 *
 * Without CONFIG_PCI_P2PDMA (every Debian 6.x kernel) nothing is checked:
 * every importer is given the host bridge route, reachable or not.
 */
enum vdb_p2p_route {
	VDB_P2P_HOST_BRIDGE,
	VDB_P2P_BUS,
};

/* A port that does not answer is not trusted to route peer to peer. */
static bool vdb_acs_redirects(struct pci_dev *pdev)
{
	u16 ctrl;

	if (!pdev->acs_cap)
		return false;
	if (pci_read_config_word(pdev, pdev->acs_cap + PCI_ACS_CTRL, &ctrl) ||
	    PCI_POSSIBLE_ERROR(ctrl))
		return true;
	return ctrl & (PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC);
}

/* The nearest function @a and @b both are, or are below; NULL if none. */
static struct pci_dev *vdb_common_upstream(struct pci_dev *a,
					   struct pci_dev *b)
{
	struct pci_dev *x, *y;

	for (x = a; x; x = pci_upstream_bridge(x))
		for (y = b; y; y = pci_upstream_bridge(y))
			if (x == y)
				return x;
	return NULL;
}

/* Whether a function from @pdev up to @top (excluded) redirects. */
static bool vdb_path_redirects(struct pci_dev *pdev, struct pci_dev *top)
{
	for (; pdev != top; pdev = pci_upstream_bridge(pdev))
		if (vdb_acs_redirects(pdev))
			return true;
	return false;
}

/*
 * The route from @dev to the BAR of @provider, for an importer the check
 * at attach let through. The ports counted are the PCI core's: those from
 * the exporter up to the common bridge, that bridge included, and those
 * from the importer up to it.
 */
static enum vdb_p2p_route vdb_p2p_route(struct pci_dev *provider,
					struct device *dev)
{
	struct pci_dev *top;

	if (!VDB_HAVE_P2P_TOPOLOGY || !dev_is_pci(dev))
		return VDB_P2P_HOST_BRIDGE;
	top = vdb_common_upstream(provider, to_pci_dev(dev));
	if (!top || vdb_path_redirects(provider, top) ||
	    vdb_acs_redirects(top) ||
	    vdb_path_redirects(to_pci_dev(dev), top))
		return VDB_P2P_HOST_BRIDGE;
	return VDB_P2P_BUS;
}

/* Refuse an importer whose device cannot reach the BAR: see above. */
static int vdb_p2p_check(struct vdb_dmabuf *priv, struct device *dev)
{
	const char *why;

	if (!VDB_HAVE_P2P_TOPOLOGY)
		return 0;
	if (!dev_is_pci(dev)) {
		why = "it is not a PCI function";
	} else {
		/* verbose: the PCI core logs what it found on the way */
		if (pci_p2pdma_distance_many(priv->pdev, &dev, 1, true) >= 0)
			return 0;
		if (vdb_common_upstream(priv->pdev, to_pci_dev(dev)))
			why = "ACS sends it up to a host bridge not known to route it";
		else
			why = "no bridge above both, and the host bridge is not known to route it";
	}
	pci_warn(priv->pdev,
		 "dma-buf %lu: importer %s (%s) cannot reach BAR %u peer to peer: %s; refused\n",
		 priv->inode->i_ino, dev_name(dev), dev_driver_string(dev),
		 priv->region_index, why);
	return -EINVAL;
}

static int vdb_dmabuf_attach(struct dma_buf *dmabuf,
			     struct dma_buf_attachment *attach)
{
	struct vdb_dmabuf *priv = dmabuf->priv;

	/* MMIO has no struct page: only a peer-to-peer capable importer. */
	if (!attach->peer2peer)
		return -EOPNOTSUPP;
	/* Early answer only; map re-checks under the resv lock. */
	if (READ_ONCE(priv->revoked))
		return -ENODEV;
	return vdb_p2p_check(priv, attach->dev);
}

static int vdb_dmabuf_pin(struct dma_buf_attachment *attach)
{
	struct vdb_dmabuf *priv = attach->dmabuf->priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (IS_ENABLED(CONFIG_DMABUF_MOVE_NOTIFY))
		return -EOPNOTSUPP;
	/*
	 * A BAR never moves: a pin only fails when there is nothing to pin,
	 * or too many pins to count.
	 */
	if (priv->revoked)
		return -ENODEV;
	if (vdb_attach_pins(attach) == FIELD_MAX(VDB_ATTACH_PINS))
		return -EOVERFLOW;
	vdb_attach_set(attach, vdb_attach_pins(attach) + 1,
		       vdb_attach_maps(attach));
	return 0;
}

static void vdb_dmabuf_unpin(struct dma_buf_attachment *attach)
{
	dma_resv_assert_held(attach->dmabuf->resv);
	if (!WARN_ON(!vdb_attach_pins(attach)))
		vdb_attach_set(attach, vdb_attach_pins(attach) - 1,
			       vdb_attach_maps(attach));
}

static void vdb_unmap_ranges(struct dma_buf_attachment *attach,
			     struct vdb_mapping *m, u32 nr,
			     enum dma_data_direction dir)
{
	struct vdb_dmabuf *priv = attach->dmabuf->priv;
	u32 i;

	if (m->bus_addr)
		return;
	for (i = 0; i < nr; i++)
		dma_unmap_resource(attach->dev, m->addrs[i], priv->ranges[i].len,
				   dir, DMA_ATTR_SKIP_CPU_SYNC);
}

static struct sg_table *vdb_dmabuf_map(struct dma_buf_attachment *attach,
				       enum dma_data_direction dir)
{
	struct vdb_dmabuf *priv = attach->dmabuf->priv;
	struct pci_dev *pdev = priv->pdev;
	struct scatterlist *sg;
	struct vdb_mapping *m;
	pci_bus_addr_t bus_off;
	u64 nents = 0;
	u32 i;
	int ret;

	dma_resv_assert_held(priv->dmabuf->resv);

	if (priv->revoked)
		return ERR_PTR(-ENODEV);
	/* The importer pinned: it would not unmap when revoked. */
	if (vdb_attach_pins(attach) > vdb_core_pins(attach))
		return ERR_PTR(-EOPNOTSUPP);
	if (vdb_attach_maps(attach) == FIELD_MAX(VDB_ATTACH_MAPS))
		return ERR_PTR(-EOVERFLOW);

	for (i = 0; i < priv->nr_ranges; i++)
		nents += DIV_ROUND_UP_ULL(priv->ranges[i].len, VDB_MAX_SEG);
	if (nents > UINT_MAX)
		return ERR_PTR(-E2BIG);

	m = kvzalloc(struct_size(m, addrs, priv->nr_ranges), GFP_KERNEL);
	if (!m)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table(&m->sgt, nents, GFP_KERNEL);
	if (ret)
		goto err_free;

	/* Bus address = CPU address + what the host bridge translates by. */
	m->bus_addr = vdb_p2p_route(pdev, attach->dev) == VDB_P2P_BUS;
	bus_off = pci_bus_address(pdev, priv->region_index) -
		  pci_resource_start(pdev, priv->region_index);

	/* DMA addresses only: there are no pages behind MMIO. */
	sg = m->sgt.sgl;
	for (i = 0; i < priv->nr_ranges; i++) {
		const struct vdb_range *r = &priv->ranges[i];
		u64 off, seg;

		if (m->bus_addr) {
			m->addrs[i] = r->paddr + bus_off;
		} else {
			m->addrs[i] = dma_map_resource(attach->dev, r->paddr,
						       r->len, dir,
						       DMA_ATTR_SKIP_CPU_SYNC);
			if (dma_mapping_error(attach->dev, m->addrs[i])) {
				ret = -EIO;
				goto err_unmap;
			}
		}
		for (off = 0; off < r->len; off += seg) {
			seg = min_t(u64, r->len - off, VDB_MAX_SEG);
			sg_dma_address(sg) = m->addrs[i] + off;
			sg_dma_len(sg) = seg;
			sg = sg_next(sg);
		}
		cond_resched();
	}

	vdb_attach_set(attach, vdb_attach_pins(attach),
		       vdb_attach_maps(attach) + 1);
	atomic_inc(&priv->nr_mapped);
	return &m->sgt;

err_unmap:
	vdb_unmap_ranges(attach, m, i, dir);
	sg_free_table(&m->sgt);
err_free:
	kvfree(m);
	return ERR_PTR(ret);
}

static void vdb_dmabuf_unmap(struct dma_buf_attachment *attach,
			     struct sg_table *sgt, enum dma_data_direction dir)
{
	struct vdb_dmabuf *priv = attach->dmabuf->priv;
	struct vdb_mapping *m = container_of(sgt, struct vdb_mapping, sgt);

	dma_resv_assert_held(priv->dmabuf->resv);

	vdb_attach_set(attach, vdb_attach_pins(attach),
		       vdb_attach_maps(attach) - 1);
	vdb_unmap_ranges(attach, m, priv->nr_ranges, dir);
	sg_free_table(&m->sgt);
	kvfree(m);
	if (atomic_dec_and_test(&priv->nr_mapped))
		wake_up_all(&priv->unmap_wq);
}

/*
 * CPU mappings
 *
 * mmap(2) of the dma-buf maps its ranges laid end to end, uncached, as
 * vfio-pci maps a BAR. Nothing is mapped at mmap time: each touch faults
 * its page (or a PMD/PUD where the range and the address are aligned) in
 * under the resv lock, and only while the dma-buf is not revoked; a touch
 * while it is gets SIGBUS. Revoke zaps every CPU mapping of the dma-buf, in
 * every process, after setting priv->revoked, so that none survives it;
 * after a re-grant the next touch faults the page back in.
 *
 * The vma holds the dma-buf's file, and so priv, for as long as it exists:
 * the fault path needs no other reference. It never needs the device
 * either: after close, priv->revoked stays true for good.
 */

/*
 * The range holding the dma-buf's pages [@pgoff, @pgoff + @nr), and the pfn
 * of the first; false if they are not all in one range (or past the end).
 * The ranges are sorted by their start in the dma-buf: binary search.
 */
static bool vdb_pgoff_to_pfn(struct vdb_dmabuf *priv, pgoff_t pgoff,
			     unsigned long nr, unsigned long *pfn)
{
	u64 off = (u64)pgoff << PAGE_SHIFT, len = (u64)nr << PAGE_SHIFT;
	u32 lo = 0, hi = priv->nr_ranges;

	while (hi - lo > 1) {
		u32 mid = lo + (hi - lo) / 2;

		if (priv->ranges[mid].start <= off)
			lo = mid;
		else
			hi = mid;
	}
	if (off < priv->ranges[lo].start ||
	    off - priv->ranges[lo].start + len > priv->ranges[lo].len)
		return false;
	*pfn = PHYS_PFN(priv->ranges[lo].paddr + off - priv->ranges[lo].start);
	return true;
}

static vm_fault_t vdb_vm_insert(struct vm_fault *vmf, unsigned long pfn,
				unsigned int order)
{
	switch (order) {
	case 0:
		return vmf_insert_pfn(vmf->vma, vmf->address, pfn);
#if VDB_HAVE_HUGE_PFNMAP && IS_ENABLED(CONFIG_ARCH_SUPPORTS_PMD_PFNMAP)
	case PMD_ORDER:
		return vmf_insert_pfn_pmd(vmf, __pfn_to_pfn_t(pfn, PFN_DEV),
					  false);
#endif
#if VDB_HAVE_HUGE_PFNMAP && IS_ENABLED(CONFIG_ARCH_SUPPORTS_PUD_PFNMAP)
	case PUD_ORDER:
		return vmf_insert_pfn_pud(vmf, __pfn_to_pfn_t(pfn, PFN_DEV),
					  false);
#endif
	default:
		return VM_FAULT_FALLBACK;
	}
}

/* Which of priv->faults counts an entry of @order: PTE, PMD or PUD. */
static unsigned int vdb_fault_kind(unsigned int order)
{
	return !!order + (order > PMD_SHIFT - PAGE_SHIFT);
}

/*
 * Map the 2^@order pages around the address touched, or fall back to a
 * smaller order: they must lie in the vma and in one range, and be aligned
 * both in the address space and in the BAR.
 */
static vm_fault_t vdb_vm_huge_fault(struct vm_fault *vmf, unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;
	struct vdb_dmabuf *priv = vma->vm_private_data;
	unsigned long nr = 1UL << order;
	unsigned long addr = ALIGN_DOWN(vmf->address, PAGE_SIZE << order);
	unsigned long pfn;
	vm_fault_t ret;

	if (addr < vma->vm_start || addr + (PAGE_SIZE << order) > vma->vm_end)
		return VM_FAULT_FALLBACK;
	if (!vdb_pgoff_to_pfn(priv, vma->vm_pgoff +
			      ((addr - vma->vm_start) >> PAGE_SHIFT), nr, &pfn))
		return order ? VM_FAULT_FALLBACK : VM_FAULT_SIGBUS;
	if (pfn & (nr - 1))
		return VM_FAULT_FALLBACK;

	/*
	 * mmap_lock, or the vma's own lock, is held: resv nests inside
	 * either. A revoke sets
	 * priv->revoked under resv and zaps after it: an entry inserted
	 * here before that is zapped, and none is inserted after.
	 */
	dma_resv_lock(priv->dmabuf->resv, NULL);
	if (priv->revoked) {
		ret = VM_FAULT_SIGBUS;
	} else {
		ret = vdb_vm_insert(vmf, pfn, order);
		if (ret == VM_FAULT_NOPAGE)
			priv->faults[vdb_fault_kind(order)]++;
	}
	dma_resv_unlock(priv->dmabuf->resv);
	return ret;
}

static vm_fault_t vdb_vm_fault(struct vm_fault *vmf)
{
	return vdb_vm_huge_fault(vmf, 0);
}

/* A vma of ours was copied (fork, a split, mremap): count it. */
static void vdb_vm_open(struct vm_area_struct *vma)
{
	struct vdb_dmabuf *priv = vma->vm_private_data;

	atomic_inc(&priv->nr_vmas);
}

static void vdb_vm_close(struct vm_area_struct *vma)
{
	struct vdb_dmabuf *priv = vma->vm_private_data;

	atomic_dec(&priv->nr_vmas);
}

static const struct vm_operations_struct vdb_vm_ops = {
	.open		= vdb_vm_open,
	.close		= vdb_vm_close,
	.fault		= vdb_vm_fault,
#if VDB_HAVE_HUGE_PFNMAP
	.huge_fault	= vdb_vm_huge_fault,
#endif
};

/*
 * The dma-buf core has checked that the vma lies within the dma-buf, and
 * mmap(2) that the file's mode allows its protection (a dma-buf exported
 * read-only cannot be mapped, or later mprotect()ed, writable).
 */
static int vdb_dmabuf_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	struct vdb_dmabuf *priv = dmabuf->priv;

	/*
	 * MMIO has no private copy to give: MAP_SHARED only. A read-only
	 * shared mapping has VM_MAYSHARE without VM_SHARED.
	 */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	/* Closed: revoked for good, every touch would fault. */
	if (!READ_ONCE(priv->vdb))
		return -ENODEV;

	/* Not VM_DONTCOPY: a child shares the mapping, and its revokes. */
	vdb_vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	vma->vm_private_data = priv;
	vma->vm_ops = &vdb_vm_ops;
	atomic_inc(&priv->nr_vmas);
	return 0;
}

/* Drop a dma-buf's count on the device; the last one lets remove() go on. */
static void vdb_put_export(struct vdb_device *vdb)
{
	if (refcount_dec_and_test(&vdb->nr_exports))
		complete(&vdb->exports_done);
}

/*
 * The last reference to the dma-buf is gone; runs from the dentry's
 * d_release, possibly long after the struct file was freed.
 */
static void vdb_dmabuf_release(struct dma_buf *dmabuf)
{
	struct vdb_dmabuf *priv = dmabuf->priv;
	/*
	 * Close takes priv->vdb under dmabufs_lock after unlinking the entry;
	 * here it is taken without the lock. Whoever gets it unlinks (close
	 * already has) and drops the device count; the xchg makes that one of
	 * us, never both. If we get it, the count keeps the device, and so
	 * the lock, alive until we drop it below.
	 */
	struct vdb_device *vdb = xchg(&priv->vdb, NULL);

	/* Every attachment is gone, so every mapping is too. */
	WARN_ON(atomic_read(&priv->nr_mapped));

	if (vdb) {
		/* Walkers may be looking at us: they hold this lock. */
		mutex_lock(&vdb->dmabufs_lock);
		list_del_init(&priv->link);
		mutex_unlock(&vdb->dmabufs_lock);
		vdb_put_export(vdb);
	}
	iput(priv->inode);
	pci_dev_put(priv->pdev);
	kvfree(priv);
}

static const struct dma_buf_ops vdb_dmabuf_ops = {
	.attach		= vdb_dmabuf_attach,
	.pin		= vdb_dmabuf_pin,
	.unpin		= vdb_dmabuf_unpin,
	.map_dma_buf	= vdb_dmabuf_map,
	.unmap_dma_buf	= vdb_dmabuf_unmap,
	.mmap		= vdb_dmabuf_mmap,
	.release	= vdb_dmabuf_release,
};

/*
 * Revoke (@revoke true) or re-grant one dma-buf. Revoke tells every importer
 * through move_notify, zaps every CPU mapping, then waits for the importers'
 * fences and until they have unmapped everything: when it returns, nothing
 * maps the BAR. The wait is unbounded but never silent.
 */
static void vdb_dmabuf_move(struct vdb_device *vdb, struct vdb_dmabuf *priv,
			    bool revoke, enum vdb_trigger trigger)
{
	struct dma_buf *dmabuf = priv->dmabuf;

	lockdep_assert_held(&vdb->dmabufs_lock);

	if (priv->revoked == revoke)
		return;
	if (revoke)
		vdb->revokes[trigger]++;
	else
		vdb->regrants[trigger]++;

	dma_resv_lock(dmabuf->resv, NULL);
	priv->revoked = revoke;
	/* On re-grant too: an importer that failed with -ENODEV may retry. */
	vdb_dma_buf_invalidate(dmabuf);
	dma_resv_unlock(dmabuf->resv);
	if (!revoke)
		return;

	/* Faults see priv->revoked now: none maps anything after this. */
	if (atomic_read(&priv->nr_vmas)) {
		unmap_mapping_range(priv->inode->i_mapping, 0, 0, true);
		priv->zaps++;
	}
	dma_resv_wait_timeout(dmabuf->resv, DMA_RESV_USAGE_BOOKKEEP, false,
			      MAX_SCHEDULE_TIMEOUT);
	while (!wait_event_timeout(priv->unmap_wq,
				   !atomic_read(&priv->nr_mapped), VDB_WAIT_WARN))
		pci_warn(vdb->core.pdev,
			 "revoke of dma-buf %lu waits for its importers to unmap %d mapping(s)\n",
			 priv->inode->i_ino,
			 atomic_read(&priv->nr_mapped));
}

/*
 * Bring every dma-buf of the device in line with vdb_mmio_usable(): the one
 * place that revokes and re-grants. @trigger only says which counters count
 * the moves.
 */
static void vdb_dmabuf_update(struct vdb_device *vdb, enum vdb_trigger trigger)
{
	struct vdb_dmabuf *priv, *tmp;
	int revoke = -1;

	lockdep_assert_held(&vdb->dmabufs_lock);

	/*
	 * One whose file is already gone has no importer left: moving it is
	 * harmless.
	 */
	vdb_for_each_dmabuf(vdb, priv, tmp) {
		/*
		 * dma-bufs are listed only while the device is open (close
		 * detaches them), so only now is its state there to read:
		 * reset hooks also run while it is being opened or closed.
		 */
		if (revoke < 0)
			revoke = !vdb_mmio_usable(vdb);
		vdb_dmabuf_move(vdb, priv, revoke, trigger);
	}
}

/*
 * MMIO is going away through @trigger: take a hold, which revokes
 * everything until vdb_dmabuf_unhold() ends it. AER's hold is not counted:
 * there is at most one, and it lasts until vdb_aer_settle() ends it.
 */
void vdb_dmabuf_hold(struct vdb_device *vdb, enum vdb_trigger trigger)
{
	mutex_lock(&vdb->dmabufs_lock);
	if (trigger == VDB_TRIGGER_AER)
		vdb->holds[trigger] = 1;
	else
		vdb->holds[trigger]++;
	vdb_dmabuf_update(vdb, trigger);
	mutex_unlock(&vdb->dmabufs_lock);
}

/* End a hold of @trigger: re-grant if nothing else keeps MMIO away. */
void vdb_dmabuf_unhold(struct vdb_device *vdb, enum vdb_trigger trigger)
{
	mutex_lock(&vdb->dmabufs_lock);
	if (!WARN_ON(trigger == VDB_TRIGGER_AER || !vdb->holds[trigger]))
		vdb->holds[trigger]--;
	vdb_aer_settle(vdb);
	vdb_dmabuf_update(vdb, trigger);
	mutex_unlock(&vdb->dmabufs_lock);
}

/* The device's state may have changed, through @trigger: follow it. */
void vdb_dmabuf_sync(struct vdb_device *vdb, enum vdb_trigger trigger)
{
	mutex_lock(&vdb->dmabufs_lock);
	vdb_aer_settle(vdb);
	vdb_dmabuf_update(vdb, trigger);
	mutex_unlock(&vdb->dmabufs_lock);
}

/*
 * The device is being opened: nothing is exported yet. An AER hold taken
 * while it was closed (a fatal error, a sibling's recovery) belongs to no
 * one: the open enables, and resets where it can, a fresh device.
 */
void vdb_dmabuf_open(struct vdb_device *vdb)
{
	mutex_lock(&vdb->dmabufs_lock);
	vdb->holds[VDB_TRIGGER_AER] = 0;
	mutex_unlock(&vdb->dmabufs_lock);
}

/*
 * The device is being closed: revoke every dma-buf for good and detach it,
 * so it no longer points at the device. The dma-bufs stay valid files.
 */
void vdb_dmabuf_close(struct vdb_device *vdb)
{
	struct vdb_dmabuf *priv, *tmp;

	mutex_lock(&vdb->dmabufs_lock);
	vdb->holds[VDB_TRIGGER_CLOSE]++;
	vdb_dmabuf_update(vdb, VDB_TRIGGER_CLOSE);
	vdb_for_each_dmabuf(vdb, priv, tmp) {
		/*
		 * Unlink first: once priv->vdb is taken, a ->release that
		 * found it NULL frees priv without waiting for this lock.
		 */
		list_del_init(&priv->link);
		if (xchg(&priv->vdb, NULL))
			vdb_put_export(vdb);
		/* else ->release has it, and waits for this lock */
	}
	vdb->holds[VDB_TRIGGER_CLOSE]--;
	/* Whatever AER left behind ends with this user. */
	vdb->holds[VDB_TRIGGER_AER] = 0;
	mutex_unlock(&vdb->dmabufs_lock);
}

/*
 * One line per live dma-buf of the device, then its ranges and importers,
 * for debugfs.
 */
void vdb_dmabuf_show(struct vdb_device *vdb, struct seq_file *m)
{
	struct dma_buf_attachment *attach;
	struct vdb_dmabuf *priv, *tmp;
	u32 i;

	mutex_lock(&vdb->dmabufs_lock);
	vdb_for_each_dmabuf(vdb, priv, tmp) {
		struct dma_buf *dmabuf = priv->dmabuf;
		unsigned int nr_attach = 0;

		dma_resv_lock(dmabuf->resv, NULL);
		list_for_each_entry(attach, &dmabuf->attachments, node)
			nr_attach++;
		seq_printf(m, "dmabuf %lu bar %u size %#zx ranges %u revoked %d mapped %d attachments %u vmas %d zaps %llu faults pte=%llu pmd=%llu pud=%llu\n",
			   priv->inode->i_ino, priv->region_index,
			   dmabuf->size, priv->nr_ranges, priv->revoked,
			   atomic_read(&priv->nr_mapped), nr_attach,
			   atomic_read(&priv->nr_vmas), priv->zaps,
			   priv->faults[0], priv->faults[1], priv->faults[2]);
		for (i = 0; i < priv->nr_ranges; i++)
			seq_printf(m, "  range %#llx %#llx\n",
				   (unsigned long long)(priv->ranges[i].paddr -
				   pci_resource_start(vdb->core.pdev, priv->region_index)),
				   priv->ranges[i].len);
		list_for_each_entry(attach, &dmabuf->attachments, node) {
			/* the importer's device may be unbinding meanwhile */
			const struct device_driver *drv = READ_ONCE(attach->dev->driver);

			seq_printf(m, "  importer %s driver %s maps %lu pins %lu route %s\n",
				   dev_name(attach->dev), drv ? drv->name : "-",
				   vdb_attach_maps(attach), vdb_attach_pins(attach),
				   vdb_p2p_route(priv->pdev, attach->dev) ==
				   VDB_P2P_BUS ? "bus" : "host-bridge");
		}
		dma_resv_unlock(dmabuf->resv);
	}
	mutex_unlock(&vdb->dmabufs_lock);
}

/* Wait until no dma-buf points at the device any more (driver remove). */
void vdb_dmabuf_wait_gone(struct vdb_device *vdb)
{
	vdb_put_export(vdb);
	while (!wait_for_completion_timeout(&vdb->exports_done, VDB_WAIT_WARN))
		pci_warn(vdb->core.pdev,
			 "remove waits for %u dma-buf(s) to be released\n",
			 refcount_read(&vdb->nr_exports));
}

void vdb_dmabuf_init(struct vdb_device *vdb)
{
	mutex_init(&vdb->dmabufs_lock);
	INIT_LIST_HEAD(&vdb->dmabufs);
	/* The device's own reference, dropped by vdb_dmabuf_wait_gone(). */
	refcount_set(&vdb->nr_exports, 1);
	init_completion(&vdb->exports_done);
}

void vdb_dmabuf_uninit(struct vdb_device *vdb)
{
	mutex_destroy(&vdb->dmabufs_lock);
}

/*
 * The BARs that can be exported: memory BARs vfio-pci can mmap. Errno as
 * mainline: -ENODEV for what is no BAR (the ROM, config space, VGA, an empty
 * BAR, the upper half of a 64-bit BAR), -EINVAL for an I/O port BAR.
 */
static int vdb_check_region(struct vfio_pci_core_device *vdev, u32 index)
{
	struct pci_dev *pdev = vdev->pdev;

	if (index > VFIO_PCI_BAR5_REGION_INDEX || !pci_resource_len(pdev, index))
		return -ENODEV;
	if (!(pci_resource_flags(pdev, index) & IORESOURCE_MEM))
		return -EINVAL;
	if (!vdev->bar_mmap_supported[index])
		return -ENODEV;
	return 0;
}

/*
 * Check the user's ranges and resolve them to bus addresses of the BAR. Two
 * passes, so that a request wrong in several ways gets mainline's errno: the
 * shape of every range first (-EINVAL), then where each lies in the BAR
 * (-EOVERFLOW for an end that wraps, -EINVAL past the BAR).
 */
static int vdb_fill_ranges(struct vdb_dmabuf *priv, struct pci_dev *pdev,
			   const struct vfio_region_dma_range *ur, size_t *size)
{
	phys_addr_t start = pci_resource_start(pdev, priv->region_index);
	u64 bar_len = pci_resource_len(pdev, priv->region_index);
	size_t total = 0;
	u32 i;

	for (i = 0; i < priv->nr_ranges; i++) {
		if (!ur[i].length || !PAGE_ALIGNED(ur[i].offset) ||
		    !PAGE_ALIGNED(ur[i].length))
			return -EINVAL;
		if (check_add_overflow(total, (size_t)ur[i].length, &total))
			return -EINVAL;
	}
	for (i = 0; i < priv->nr_ranges; i++) {
		u64 end;

		if (check_add_overflow(ur[i].offset, ur[i].length, &end))
			return -EOVERFLOW;
		if (end > bar_len)
			return -EINVAL;
		priv->ranges[i].paddr = start + ur[i].offset;
		priv->ranges[i].len = ur[i].length;
		priv->ranges[i].start = i ? priv->ranges[i - 1].start +
					    priv->ranges[i - 1].len : 0;
	}
	*size = total;
	return 0;
}

int vdb_feature_dma_buf(struct vdb_device *vdb, u32 flags, void __user *arg,
			size_t argsz)
{
	struct vfio_device_feature_dma_buf __user *uarg = arg;
	struct vfio_pci_core_device *vdev = &vdb->core;
	struct vfio_device_feature_dma_buf hdr;
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct vfio_region_dma_range *ur;
	struct vdb_dmabuf *priv;
	struct dma_buf *dmabuf;
	size_t size;
	int ret;

	ret = vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET,
				 sizeof(hdr));
	if (ret != 1)
		return ret;
	if (copy_from_user(&hdr, uarg, sizeof(hdr)))
		return -EFAULT;
	if (!hdr.nr_ranges || hdr.flags || hdr.open_flags & ~VDB_OPEN_FLAGS)
		return -EINVAL;
	/* Read nothing past argsz: the ranges must fit in it. */
	if ((argsz - sizeof(hdr)) / sizeof(*ur) < hdr.nr_ranges)
		return -EINVAL;
	ret = vdb_check_region(vdev, hdr.region_index);
	if (ret)
		return ret;

	/*
	 * argsz may be up to 4 GiB. kmalloc only, quietly: a count too big for
	 * it fails with -ENOMEM (as mainline's memdup_array_user() does)
	 * instead of asking vmalloc for gigabytes and warning about it.
	 */
	ur = memdup_user(uarg->dma_ranges, (size_t)hdr.nr_ranges * sizeof(*ur));
	if (IS_ERR(ur))
		return PTR_ERR(ur);
	priv = kvzalloc(struct_size(priv, ranges, hdr.nr_ranges), GFP_KERNEL);
	if (!priv) {
		ret = -ENOMEM;
		goto err_free_ur;
	}
	INIT_LIST_HEAD(&priv->link);
	init_waitqueue_head(&priv->unmap_wq);
	priv->region_index = hdr.region_index;
	priv->nr_ranges = hdr.nr_ranges;
	ret = vdb_fill_ranges(priv, vdev->pdev, ur, &size);
	if (ret)
		goto err_free_priv;
	kfree(ur);
	ur = NULL;

	/* Held from here until ->release, or vdb_dmabuf_close(). */
	refcount_inc(&vdb->nr_exports);
	priv->vdb = vdb;
	/* Held until ->release. */
	priv->pdev = pci_dev_get(vdev->pdev);

	exp_info.ops = &vdb_dmabuf_ops;
	exp_info.size = size;
	exp_info.flags = hdr.open_flags;
	exp_info.priv = priv;
	dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto err_put_export;
	}
	priv->dmabuf = dmabuf;
	/* Held until ->release: see the top. */
	priv->inode = file_inode(dmabuf->file);
	ihold(priv->inode);
	/* From here on only dma_buf_put() frees priv, through ->release. */

	/* Born revoked exactly when vdb_dmabuf_update() would revoke it. */
	mutex_lock(&vdb->dmabufs_lock);
	dma_resv_lock(dmabuf->resv, NULL);
	priv->revoked = !vdb_mmio_usable(vdb);
	dma_resv_unlock(dmabuf->resv);
	list_add_tail(&priv->link, &vdb->dmabufs);
	mutex_unlock(&vdb->dmabufs_lock);

	ret = dma_buf_fd(dmabuf, hdr.open_flags);
	if (ret < 0)
		dma_buf_put(dmabuf);
	return ret;

err_put_export:
	pci_dev_put(priv->pdev);
	priv->vdb = NULL;
	vdb_put_export(vdb);
err_free_priv:
	kvfree(priv);
err_free_ur:
	kfree(ur);
	return ret;
}
