// SPDX-License-Identifier: GPL-2.0
/* vfio-pci exports BARs as dma-bufs itself (mainline 6.19 and later). */
#include <uapi/linux/vfio.h>

static const int __maybe_unused vd_probe = VFIO_DEVICE_FEATURE_DMA_BUF;
