// SPDX-License-Identifier: GPL-2.0
/* get_file_active(): 6.7+. Older kernels have get_file_rcu(struct file *). */
#include <linux/fs.h>
#include <linux/file.h>

struct file *vd_probe(struct file **f);
struct file *vd_probe(struct file **f)
{
	return get_file_active(f);
}
