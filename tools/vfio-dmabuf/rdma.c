// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-dmabuf rdma-reg: register an exported BAR range as an RDMA memory
 * region with ibv_reg_dmabuf_mr(), as an RDMA application does before it
 * lets a peer read or write the BAR.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfio-dmabuf.h"

#ifdef HAVE_IBVERBS
#include <infiniband/verbs.h>

struct rdma_opts {
	const char *dev;
	bool hold;
};

static int rdma_opt(const char *opt, const char *arg, void *ctx)
{
	struct rdma_opts *o = ctx;

	if (!strcmp(opt, "--hold")) {
		o->hold = true;
		return 0;
	}
	if (!strcmp(opt, "--rdma-dev")) {
		if (!arg)
			return -1;	/* parse_export says it needs a value */
		o->dev = arg;
		return 1;
	}
	return -1;
}

/* The kernel driver behind an RDMA device, from sysfs: "mlx5_core", "rdma_rxe". */
static const char *kernel_driver(const char *ibdev)
{
	static char name[NAME_MAX + 1];
	char path[PATH_MAX], link[PATH_MAX];
	const char *tries[] = { "device/driver/module", "device/driver" };
	unsigned int i;
	ssize_t n;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/sys/class/infiniband/%s/%s", ibdev, tries[i]);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = 0;
			snprintf(name, sizeof(name), "%s", strrchr(link, '/') + 1);
			return name;
		}
	}
	/* software RDMA devices (rxe, siw) sit on a netdev, not on a bus device */
	snprintf(path, sizeof(path), "/sys/class/infiniband/%s/parent", ibdev);
	if (!access(path, F_OK))
		return "software RDMA on a netdev (rxe or siw)";
	return "unknown";
}

static void explain_reg(int e, const char *ibdev)
{
	const char *drv = kernel_driver(ibdev);

	switch (e) {
	case EOPNOTSUPP:
		die("ibv_reg_dmabuf_mr on %s (%s) failed: %s (EOPNOTSUPP): its verbs provider "
		    "or kernel driver cannot register dma-buf memory. rxe and siw never can; "
		    "mlx5, efa, bnxt_re, irdma and others can, but pinned importers (all of "
		    "them but mlx5 with ODP) are refused by vfio-pci-dmabuf and by mainline "
		    "vfio-pci, which must be able to revoke the BAR on reset",
		    ibdev, drv, strerror(e));
	case EPROTONOSUPPORT:
		die("ibv_reg_dmabuf_mr on %s (%s) failed: %s (EPROTONOSUPPORT): the kernel's "
		    "uverbs has no dma-buf MR method (kernels before 5.12)",
		    ibdev, drv, strerror(e));
	case ENODEV:
		die("ibv_reg_dmabuf_mr on %s (%s) failed: %s (ENODEV): the BAR is revoked "
		    "(memory decode off, reset or D3 in progress)", ibdev, drv, strerror(e));
	default:
		die("ibv_reg_dmabuf_mr on %s (%s) failed: %s (errno %d)", ibdev, drv,
		    strerror(e), e);
	}
}

int cmd_rdma_reg(int argc, char **argv)
{
	struct rdma_opts o = {};
	struct ibv_device **list, *dev = NULL;
	struct ibv_context *ctx;
	struct export_args *a;
	struct vd_dev d;
	struct ibv_mr *mr;
	struct ibv_pd *pd;
	int fd, n, i;

	a = malloc(sizeof(*a));
	if (!a)
		die("out of memory");
	parse_export(argc, argv, a, rdma_opt, &o);
	if (!o.dev)
		die("rdma-reg needs --rdma-dev NAME (see ibv_devices)");
	list = ibv_get_device_list(&n);
	if (!list)
		die("ibv_get_device_list: %s", strerror(errno));
	for (i = 0; i < n; i++)
		if (!strcmp(ibv_get_device_name(list[i]), o.dev))
			dev = list[i];
	if (!dev)
		die("no RDMA device %s (%d device(s) found; see ibv_devices)", o.dev, n);
	ctx = ibv_open_device(dev);
	if (!ctx)
		die("cannot open RDMA device %s: %s", o.dev, strerror(errno));
	pd = ibv_alloc_pd(ctx);
	if (!pd)
		die("ibv_alloc_pd on %s: %s", o.dev, strerror(errno));

	open_and_export(a, &d, &fd);
	print_dmabuf(fd, a);
	mr = ibv_reg_dmabuf_mr(pd, 0, a->size, 0, fd,
			       IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
			       IBV_ACCESS_REMOTE_READ);
	if (!mr)
		explain_reg(errno, o.dev);
	printf("mr on %s: lkey %#x rkey %#x length %#zx\n", o.dev, mr->lkey, mr->rkey,
	       mr->length);
	fflush(stdout);
	if (o.hold)
		hold("the memory region, the dma-buf and the device");
	ibv_dereg_mr(mr);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	ibv_free_device_list(list);
	close(fd);
	free(a);
	return 0;
}
#else
int cmd_rdma_reg(int argc, char **argv)
{
	die("rdma-reg: this vfio-dmabuf was built without libibverbs: %s when it "
	    "was built (apt install libibverbs-dev pkg-config, then rebuild)",
	    NO_IBVERBS_WHY);
}
#endif
