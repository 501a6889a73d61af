// SPDX-License-Identifier: GPL-2.0
/*
 * 6.12: ->huge_fault() takes the order of the entry it may map (PMD_ORDER,
 * PUD_ORDER), and vmf_insert_pfn_pmd() maps MMIO (PFN_DEV) as a special
 * huge entry, as vfio-pci's BAR mmap does. 6.1 passed an enum
 * page_entry_size and had no PMD_ORDER.
 */
#include <linux/mm.h>	/* before huge_mm.h, which needs it */
#include <linux/huge_mm.h>
#include <linux/pfn_t.h>

static vm_fault_t vd_probe_fault(struct vm_fault *vmf, unsigned int order)
{
	if (order != PMD_ORDER)
		return VM_FAULT_FALLBACK;
	return vmf_insert_pfn_pmd(vmf, __pfn_to_pfn_t(0, PFN_DEV), false);
}

const struct vm_operations_struct vd_probe_ops = {
	.huge_fault = vd_probe_fault,
};
