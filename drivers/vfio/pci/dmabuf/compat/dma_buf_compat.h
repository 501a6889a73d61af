/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The dma-buf API differences every module of the project sees, exporter
 * (vfio-pci-dmabuf) and importers (edu-p2p, the selftests' importer) alike.
 * Each VD_HAVE_* comes from a compile probe in this directory: a Kbuild
 * gets the probes' results, and this directory on its include path, by
 * including probes.mk.
 */
#ifndef VD_DMA_BUF_COMPAT_H
#define VD_DMA_BUF_COMPAT_H

#include <linux/dma-buf.h>
#include <linux/module.h>

#include "compat_probed.h"

/* The dma-buf symbols are in a namespace, named by identifier before 6.13. */
#ifdef VD_HAVE_MODULE_IMPORT_NS_IDENT
#define VD_IMPORT_NS_DMA_BUF()	MODULE_IMPORT_NS(DMA_BUF)
#else
#define VD_IMPORT_NS_DMA_BUF()	MODULE_IMPORT_NS("DMA_BUF")
#endif

/*
 * An importer's callback for "your mappings are going away", a member of
 * struct dma_buf_attach_ops: move_notify until 7.x renamed it
 * invalidate_mappings, with the same contract (called with the resv lock
 * held; the importer must stop using and unmap what it mapped). Use it as
 * an initializer: { VD_DMA_BUF_INVALIDATE_OP(fn), }.
 */
#ifdef VD_HAVE_DMA_BUF_INVALIDATE_MAPPINGS
#define VD_DMA_BUF_INVALIDATE_OP(fn)	.invalidate_mappings = (fn)
#else
#define VD_DMA_BUF_INVALIDATE_OP(fn)	.move_notify = (fn)
#endif

#endif /* VD_DMA_BUF_COMPAT_H */
