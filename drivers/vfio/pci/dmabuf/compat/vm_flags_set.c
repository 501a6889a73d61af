// SPDX-License-Identifier: GPL-2.0
/* 6.3 made vma->vm_flags read-only: vm_flags_set() changes them. */
#include <linux/mm.h>

static void __maybe_unused vd_probe(struct vm_area_struct *vma)
{
	vm_flags_set(vma, VM_IO);
}
