/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VFIO_PCI_DMABUF_H
#define VFIO_PCI_DMABUF_H

#include <linux/completion.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/seq_file.h>
#include <linux/vfio_pci_core.h>

/*
 * Two words, used in this sense throughout the driver:
 *
 * A trigger is the kind of event that takes the BAR away, or gives it back:
 * enum vdb_trigger. Every revoke and re-grant is counted under the trigger
 * that set it off, whether it took or ended a hold or followed a change of
 * the device's state (memory decode, power state, read from the device).
 *
 * A hold is a revoke in force: a trigger takes one before the BAR may go
 * away, and it keeps every dma-buf of the device revoked until it ends.
 * Holds are counted per trigger (AER's count is 0 or 1); while any count is
 * non-zero, nothing is re-granted.
 *
 * Each trigger, and how long its hold lasts:
 */
enum vdb_trigger {
	VDB_TRIGGER_CONFIG,	/* a write to command or PM control: until done */
	VDB_TRIGGER_RESET,	/* a reset: reset_prepare until reset_done */
	VDB_TRIGGER_LOW_POWER,	/* a low-power entry on its way; exit, wake-up */
	VDB_TRIGGER_AER,	/* error_detected until the device decodes */
	VDB_TRIGGER_CLOSE,	/* the device is being closed */
	VDB_TRIGGER_REMOVE,	/* the driver is being unbound: for good */
	VDB_NR_TRIGGERS,
};

/* One per bound PCI device. */
struct vdb_device {
	struct vfio_pci_core_device core;

	/*
	 * The dma-bufs exported from this device, the holds in force, and
	 * the revoke state of each dma-buf. See the lock order at the top of
	 * dmabuf.c.
	 */
	struct mutex dmabufs_lock;
	struct list_head dmabufs;
	unsigned int holds[VDB_NR_TRIGGERS];
	/*
	 * One per dma-buf that still points at this device, plus the
	 * device's own, which remove() drops before it waits for
	 * exports_done.
	 */
	refcount_t nr_exports;
	struct completion exports_done;

	/*
	 * dma-bufs revoked and re-granted, by trigger (the end of its hold,
	 * or a change of the device's state it made); dmabufs_lock.
	 */
	u64 revokes[VDB_NR_TRIGGERS];
	u64 regrants[VDB_NR_TRIGGERS];

	struct dentry *debugfs;		/* this device's file */
};

static inline struct vdb_device *vdb_from_core(struct vfio_pci_core_device *vdev)
{
	return container_of(vdev, struct vdb_device, core);
}

static inline struct vdb_device *vdb_from_vfio(struct vfio_device *core_vdev)
{
	return vdb_from_core(container_of(core_vdev, struct vfio_pci_core_device, vdev));
}

void vdb_dmabuf_init(struct vdb_device *vdb);
void vdb_dmabuf_uninit(struct vdb_device *vdb);
int vdb_feature_dma_buf(struct vdb_device *vdb, u32 flags, void __user *arg,
			size_t argsz);
void vdb_dmabuf_open(struct vdb_device *vdb);
void vdb_dmabuf_close(struct vdb_device *vdb);
void vdb_dmabuf_hold(struct vdb_device *vdb, enum vdb_trigger trigger);
void vdb_dmabuf_unhold(struct vdb_device *vdb, enum vdb_trigger trigger);
void vdb_dmabuf_sync(struct vdb_device *vdb, enum vdb_trigger trigger);
void vdb_dmabuf_wait_gone(struct vdb_device *vdb);

/* debugfs.c: /sys/kernel/debug/vfio-pci-dmabuf/<BDF> */
void vdb_debugfs_init(void);
void vdb_debugfs_exit(void);
void vdb_debugfs_add(struct vdb_device *vdb);
void vdb_debugfs_remove(struct vdb_device *vdb);
void vdb_dmabuf_show(struct vdb_device *vdb, struct seq_file *m);

#endif /* VFIO_PCI_DMABUF_H */
