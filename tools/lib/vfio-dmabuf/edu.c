// SPDX-License-Identifier: GPL-2.0-only
/*
 * libvfio-dmabuf: QEMU's edu device (hw/misc/edu.c) driven from userspace
 * through VFIO, as a VMM's guest would drive a passthrough DMA engine: BAR0
 * mapped with the region mmap, bus mastering on through the config region,
 * and one transfer at a time between the engine's own 4 KiB buffer and an
 * IOVA of the IOMMU domain the device is attached to.
 */
#include <errno.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/pci_regs.h>

#include <vfio-dmabuf/vd.h>

/* BAR0's registers */
#define EDU_ID		0x00	/* 0x010000ed: version 1.0, "ed" */
#define EDU_LIVENESS	0x04	/* reads back the inverse of what was written */
#define EDU_DMA_SRC	0x80
#define EDU_DMA_DST	0x88
#define EDU_DMA_COUNT	0x90
#define EDU_DMA_CMD	0x98
#define EDU_DMA_RUN	0x1	/* start; reads 1 while the transfer runs */
#define EDU_DMA_TO_RAM	0x2	/* direction: the engine's buffer to the bus */

static uint32_t rd32(struct vd_edu_vfio *e, unsigned int off)
{
	return *(volatile uint32_t *)(e->bar0 + off);
}

static void wr32(struct vd_edu_vfio *e, unsigned int off, uint32_t val)
{
	*(volatile uint32_t *)(e->bar0 + off) = val;
}

static uint64_t rd64(struct vd_edu_vfio *e, unsigned int off)
{
	return *(volatile uint64_t *)(e->bar0 + off);
}

static void wr64(struct vd_edu_vfio *e, unsigned int off, uint64_t val)
{
	*(volatile uint64_t *)(e->bar0 + off) = val;
}

int vd_edu_vfio_open(struct vd_edu_vfio *e, struct vd_dev *d)
{
	struct vfio_region_info ri;
	uint16_t cmd;
	void *bar0;
	int ret;

	*e = (struct vd_edu_vfio){ .dev = d };
	ret = vd_region_info(d, VFIO_PCI_BAR0_REGION_INDEX, &ri);
	if (ret)
		return ret;
	if (!(ri.flags & VFIO_REGION_INFO_FLAG_MMAP) || ri.size < EDU_DMA_CMD + 8)
		return -ENODEV;
	ret = vd_cfg_read(d, PCI_COMMAND, &cmd, sizeof(cmd));
	if (ret)
		return ret;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	ret = vd_cfg_write(d, PCI_COMMAND, &cmd, sizeof(cmd));
	if (ret)
		return ret;
	bar0 = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, ri.offset);
	if (bar0 == MAP_FAILED)
		return -errno;
	e->bar0 = bar0;
	e->bar0_size = ri.size;
	/* a device that answers, and answers as edu does */
	wr32(e, EDU_LIVENESS, 0x5a5aa5a5);
	if ((rd32(e, EDU_ID) & 0xff) != 0xed || rd32(e, EDU_LIVENESS) != ~0x5a5aa5a5U) {
		vd_edu_vfio_close(e);
		return -EIO;
	}
	return 0;
}

void vd_edu_vfio_close(struct vd_edu_vfio *e)
{
	if (e->bar0)
		munmap(e->bar0, e->bar0_size);
	e->bar0 = NULL;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vd_edu_vfio_dma(struct vd_edu_vfio *e, int to_ram, uint64_t iova, uint32_t len,
		    int timeout_ms)
{
	long end = now_ms() + timeout_ms;

	if (!len || len > VD_EDU_XFER_MAX || iova > VD_EDU_DMA_MASK ||
	    len - 1 > VD_EDU_DMA_MASK - iova)
		return -EINVAL;
	/* edu ignores every write to the DMA registers while a transfer runs */
	if (rd64(e, EDU_DMA_CMD) & EDU_DMA_RUN)
		return -EBUSY;
	wr64(e, EDU_DMA_SRC, to_ram ? VD_EDU_BUF : iova);
	wr64(e, EDU_DMA_DST, to_ram ? iova : VD_EDU_BUF);
	wr64(e, EDU_DMA_COUNT, len);
	wr64(e, EDU_DMA_CMD, EDU_DMA_RUN | (to_ram ? EDU_DMA_TO_RAM : 0));
	/* QEMU runs the transfer from a timer 100 ms (virtual) later */
	while (rd64(e, EDU_DMA_CMD) & EDU_DMA_RUN) {
		if (now_ms() > end)
			return -ETIMEDOUT;
		usleep(5000);
	}
	return 0;
}
