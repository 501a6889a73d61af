// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest side of `make demo`, narrated: open the ivshmem device through
 * VFIO, write a message through its BAR2 mmap, export part of BAR2 as a
 * dma-buf, have the edu DMA engine (edu-p2p) write into it through the
 * IOMMU, then take the BAR away and give it back and show what the importer
 * sees. The host reads the messages from the ivshmem backing file.
 *
 * usage: vd_demo BDF MESSAGE
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vfio-dmabuf/vd.h>

#define MMAP_MSG_OFF	0x1000		/* BAR2 offsets the host reads */
#define EXPORT_OFF	0x100000
#define DMA_MSG_OFF	0x2000		/* within the export */
#define REGRANT_MSG_OFF	0x3000
#define REVOKED_MSG_OFF	0x4000		/* must stay untouched */
#define MSG_LEN		256

static int dma_write(int edu, uint64_t off, const char *msg)
{
	char buf[MSG_LEN] = { 0 };

	snprintf(buf, sizeof(buf), "%s", msg);
	return vd_edu_xfer(edu, EDU_P2P_WRITE, off, buf, sizeof(buf));
}

#define FAIL(...) do { printf("guest: " __VA_ARGS__); printf("\n"); return 1; } while (0)

int main(int argc, char **argv)
{
	const struct vfio_region_dma_range range = { EXPORT_OFF, 0x10000 };
	struct vfio_region_info ri;
	char drv[64], msg[MSG_LEN];
	struct vd_dev d;
	int dmabuf, edu, ret;
	char *bar;

	if (argc != 3) {
		fprintf(stderr, "usage: %s BDF MESSAGE\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	vd_bound_driver(argv[1], drv, sizeof(drv));
	printf("guest: %s is bound to %s\n", argv[1], drv);
	ret = vd_open_group(&d, argv[1]);
	if (ret)
		FAIL("cannot open %s through VFIO: %s", argv[1], strerror(-ret));
	vd_set_memory_enable(&d, 1);
	if (vd_region_info(&d, VD_IVSHMEM_BAR, &ri))
		FAIL("no BAR2 region");
	printf("guest: opened it through its VFIO group; BAR2 is %llu MiB\n",
	       (unsigned long long)ri.size >> 20);
	bar = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, d.fd, ri.offset);
	if (bar == MAP_FAILED)
		FAIL("cannot map BAR2: %s", strerror(errno));
	snprintf(bar + MMAP_MSG_OFF, MSG_LEN, "%s", argv[2]);
	printf("guest: the CPU wrote \"%s\" at BAR2+0x%x through the mmap\n",
	       argv[2], MMAP_MSG_OFF);

	ret = vd_export(d.fd, VD_IVSHMEM_BAR, O_CLOEXEC, 0, &range, 1, 0);
	if (ret < 0)
		FAIL("VFIO_DEVICE_FEATURE_DMA_BUF failed: %s", strerror(-ret));
	printf("guest: exported BAR2+0x%x..+0x%llx as dma-buf fd %d\n", EXPORT_OFF,
	       (unsigned long long)(EXPORT_OFF + range.length), ret);
	edu = open(VD_EDU_DEV, O_RDWR | O_CLOEXEC);
	if (edu < 0)
		FAIL("cannot open " VD_EDU_DEV ": %s", strerror(errno));
	dmabuf = ret;
	ret = vd_edu_import(edu, dmabuf, EDU_P2P_DYNAMIC, 0, 0, NULL);
	close(dmabuf);	/* edu-p2p holds it now */
	if (ret)
		FAIL("edu-p2p cannot import it: %s", strerror(-ret));
	printf("guest: edu-p2p imported it (dynamic importer, like an RDMA NIC with ODP)\n");

	snprintf(msg, sizeof(msg), "%s [written by the edu DMA engine]", argv[2]);
	ret = dma_write(edu, DMA_MSG_OFF, msg);
	if (ret)
		FAIL("edu DMA write failed: %s", strerror(-ret));
	printf("guest: edu DMA-wrote \"%s\" at BAR2+0x%x, peer to peer through the IOMMU\n",
	       msg, EXPORT_OFF + DMA_MSG_OFF);

	if (ioctl(d.fd, VFIO_DEVICE_RESET))
		FAIL("VFIO_DEVICE_RESET failed: %s", strerror(errno));
	printf("guest: VFIO_DEVICE_RESET: the importer was told %llu time(s) (revoke, re-grant) and dropped its mapping\n",
	       (unsigned long long)vd_edu_status(edu).invalidations);

	vd_set_memory_enable(&d, 0);
	printf("guest: memory decode off: the BAR is revoked\n");
	ret = dma_write(edu, REVOKED_MSG_OFF, "this must never land");
	if (!ret)
		FAIL("a DMA went through while revoked");
	printf("guest: edu's next DMA, aimed at BAR2+0x%x, is refused: %s\n",
	       EXPORT_OFF + REVOKED_MSG_OFF, strerror(-ret));
	vd_set_memory_enable(&d, 1);
	snprintf(msg, sizeof(msg), "%s [after re-grant]", argv[2]);
	ret = dma_write(edu, REGRANT_MSG_OFF, msg);
	if (ret)
		FAIL("DMA after re-grant failed: %s", strerror(-ret));
	printf("guest: memory decode on: re-granted; edu DMA-wrote \"%s\" at BAR2+0x%x (mapping #%llu)\n",
	       msg, EXPORT_OFF + REGRANT_MSG_OFF, (unsigned long long)vd_edu_status(edu).maps);
	close(edu);
	munmap(bar, ri.size);
	vd_close(&d);
	return 0;
}
