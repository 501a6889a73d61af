// SPDX-License-Identifier: GPL-2.0-only
/*
 * /sys/kernel/debug/vfio-pci-dmabuf/<BDF>: what a device exports, to whom,
 * the holds in force, and how often its dma-bufs were revoked and
 * re-granted, each by trigger (see enum vdb_trigger).
 * Read by `vfio-dmabuf list` and the selftests. The format is lines of
 * "key value..." words, indented lines belonging to the dma-buf above.
 *
 * The file lives from probe to remove. debugfs_remove() waits for readers
 * in flight, so a read never sees a device that is going away.
 */
#include <linux/debugfs.h>
#include <linux/pci.h>
#include <linux/seq_file.h>

#include "vfio_pci_dmabuf.h"

static struct dentry *vdb_debugfs_root;

/* As `vfio-dmabuf list` and the selftests know them: never rename one. */
static const char *const vdb_trigger_names[VDB_NR_TRIGGERS] = {
	[VDB_TRIGGER_CONFIG]	= "config",
	[VDB_TRIGGER_RESET]	= "reset",
	[VDB_TRIGGER_LOW_POWER]	= "low_power",
	[VDB_TRIGGER_AER]	= "aer",
	[VDB_TRIGGER_CLOSE]	= "close",
	[VDB_TRIGGER_REMOVE]	= "remove",
};

static void vdb_show_counts(struct seq_file *m, const char *what,
			    const u64 *counts)
{
	int i;

	seq_puts(m, what);
	for (i = 0; i < VDB_NR_TRIGGERS; i++)
		seq_printf(m, " %s=%llu", vdb_trigger_names[i], counts[i]);
	seq_putc(m, '\n');
}

static int vdb_debugfs_show(struct seq_file *m, void *unused)
{
	struct vdb_device *vdb = m->private;
	u64 holds[VDB_NR_TRIGGERS];
	u64 revokes[VDB_NR_TRIGGERS], regrants[VDB_NR_TRIGGERS];
	unsigned int exports;
	int i;

	mutex_lock(&vdb->dmabufs_lock);
	for (i = 0; i < VDB_NR_TRIGGERS; i++) {
		holds[i] = vdb->holds[i];
		revokes[i] = vdb->revokes[i];
		regrants[i] = vdb->regrants[i];
	}
	/* less the device's own reference */
	exports = refcount_read(&vdb->nr_exports) - 1;
	mutex_unlock(&vdb->dmabufs_lock);

	seq_printf(m, "device %s\n", pci_name(vdb->core.pdev));
	seq_printf(m, "exports %u\n", exports);
	vdb_show_counts(m, "holds", holds);
	vdb_show_counts(m, "revokes", revokes);
	vdb_show_counts(m, "regrants", regrants);
	vdb_dmabuf_show(vdb, m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vdb_debugfs);

void vdb_debugfs_add(struct vdb_device *vdb)
{
	/* debugfs is optional: errors are ignored, as debugfs asks */
	vdb->debugfs = debugfs_create_file(pci_name(vdb->core.pdev), 0400,
					   vdb_debugfs_root, vdb,
					   &vdb_debugfs_fops);
}

void vdb_debugfs_remove(struct vdb_device *vdb)
{
	debugfs_remove(vdb->debugfs);
	vdb->debugfs = NULL;
}

void vdb_debugfs_init(void)
{
	vdb_debugfs_root = debugfs_create_dir("vfio-pci-dmabuf", NULL);
}

void vdb_debugfs_exit(void)
{
	debugfs_remove(vdb_debugfs_root);
}
