/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared by the subcommands of vfio-dmabuf. */
#ifndef VFIO_DMABUF_TOOL_H
#define VFIO_DMABUF_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <vfio-dmabuf/vd.h>

struct export_args {
	const char *bdf;
	uint32_t bar;
	uint32_t nr_ranges;
	uint64_t size;
	bool enable;			/* turn memory decode on first */
	char **exec;			/* --exec CMD ARGS..., or NULL */
	struct vfio_region_dma_range ranges[1024];
};

extern const char *prog;

void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void parse_export(int argc, char **argv, struct export_args *a,
		  int (*more)(const char *opt, const char *arg, void *ctx), void *ctx);
void open_and_export(struct export_args *a, struct vd_dev *d, int *fd);
void print_dmabuf(int fd, const struct export_args *a);
void hold(const char *what);
int run_with(char **argv, int fd);

int cmd_rdma_reg(int argc, char **argv);

#endif
