// SPDX-License-Identifier: GPL-2.0
/* 6.17+: vfio_pci_core_match() calls ops->match_token_uuid unconditionally. */
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

const struct vfio_device_ops vd_probe_ops = {
	.match_token_uuid = vfio_pci_core_match_token_uuid,
};
