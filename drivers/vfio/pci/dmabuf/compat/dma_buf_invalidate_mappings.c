// SPDX-License-Identifier: GPL-2.0
/* 7.0 renamed move_notify to invalidate_mappings (and the exporter's call). */
#include <linux/dma-buf.h>

const struct dma_buf_attach_ops vd_probe_ops = {
	.invalidate_mappings = NULL,
};

static void __maybe_unused vd_probe(struct dma_buf *dmabuf)
{
	dma_buf_invalidate_mappings(dmabuf);
}
