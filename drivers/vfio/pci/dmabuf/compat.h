/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels vfio-pci-dmabuf builds for lives here,
 * or in compat/dma_buf_compat.h for those the importers share. Each
 * VD_HAVE_* comes from a compile probe in compat/ (see Kbuild), never from a
 * version number.
 */
#ifndef VFIO_PCI_DMABUF_COMPAT_H
#define VFIO_PCI_DMABUF_COMPAT_H

#include "compat_probed.h"
#include "dma_buf_compat.h"

#ifdef VD_HAVE_NATIVE_DMA_BUF
#error "This kernel's vfio-pci already exports BARs as dma-bufs: bind devices to vfio-pci."
#endif

/* Tell every importer its mappings are gone (resv held). */
#ifdef VD_HAVE_DMA_BUF_INVALIDATE_MAPPINGS
#define vdb_dma_buf_invalidate(dmabuf)	dma_buf_invalidate_mappings(dmabuf)
#else
#define vdb_dma_buf_invalidate(dmabuf)	dma_buf_move_notify(dmabuf)
#endif

#ifdef VD_HAVE_VFIO_IOMMUFD_OPS
#define VDB_IOMMUFD_OPS						\
	.bind_iommufd	= vfio_iommufd_physical_bind,		\
	.unbind_iommufd	= vfio_iommufd_physical_unbind,		\
	.attach_ioas	= vfio_iommufd_physical_attach_ioas,	\
	.detach_ioas	= vfio_iommufd_physical_detach_ioas,
#else
#define VDB_IOMMUFD_OPS
#endif

#ifdef VD_HAVE_VFIO_GET_REGION_INFO_CAPS
#define VDB_REGION_INFO_OPS \
	.get_region_info_caps = vfio_pci_ioctl_get_region_info,
#else
#define VDB_REGION_INFO_OPS
#endif

#ifdef VD_HAVE_VFIO_MATCH_TOKEN_UUID
#define VDB_MATCH_TOKEN_OPS \
	.match_token_uuid = vfio_pci_core_match_token_uuid,
#else
#define VDB_MATCH_TOKEN_OPS
#endif

/*
 * Whether the kernel can tell if an importer reaches a BAR peer to peer
 * (pci_p2pdma_distance_many()). Without CONFIG_PCI_P2PDMA, as in every
 * Debian 6.x kernel, pci-p2pdma.h's stubs answer "unreachable" for every
 * pair: the driver must not ask them, and checks nothing (docs/design.md).
 */
#define VDB_HAVE_P2P_TOPOLOGY	IS_ENABLED(CONFIG_PCI_P2PDMA)

/* Set flags of a vma its ->mmap() is setting up. */
#ifdef VD_HAVE_VM_FLAGS_SET
#define vdb_vm_flags_set(vma, flags)	vm_flags_set(vma, flags)
#else
#define vdb_vm_flags_set(vma, flags)	((vma)->vm_flags |= (flags))
#endif

/*
 * Whether a CPU mapping of a dma-buf may map a large aligned range with one
 * PMD or PUD entry, as vfio-pci's BAR mmap does on 6.12: ->huge_fault()
 * with an order, and huge pfnmaps on this architecture. Else page by page.
 */
#if defined(VD_HAVE_HUGE_FAULT_ORDER) && IS_ENABLED(CONFIG_ARCH_SUPPORTS_HUGE_PFNMAP)
#define VDB_HAVE_HUGE_PFNMAP	1
#else
#define VDB_HAVE_HUGE_PFNMAP	0
#endif

#endif /* VFIO_PCI_DMABUF_COMPAT_H */
