// SPDX-License-Identifier: GPL-2.0
/* MODULE_IMPORT_NS() took a bare identifier before 6.13, a string after. */
#include <linux/module.h>

MODULE_IMPORT_NS(DMA_BUF);
