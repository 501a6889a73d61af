// SPDX-License-Identifier: GPL-2.0
/*
 * ib_umem_dmabuf_get_pinned_with_dma_device() (not in 6.1): ib_core's pinned
 * dma-buf importer, mapping for a DMA device of the caller's choice.
 */
#include <rdma/ib_umem.h>

static struct ib_umem_dmabuf * __maybe_unused
vd_probe(struct ib_device *ibdev, struct device *dev)
{
	return ib_umem_dmabuf_get_pinned_with_dma_device(ibdev, dev, 0, 0, -1, 0);
}
