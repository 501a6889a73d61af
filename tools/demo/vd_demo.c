// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest side of `make demo`, narrated: open the ivshmem device through
 * VFIO, map its BAR2 and write a message the host then reads from the
 * ivshmem backing file.
 *
 * usage: vd_demo BDF MESSAGE
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vd_lib.h"

#define MSG_OFFSET 0x1000

int main(int argc, char **argv)
{
	struct vfio_region_info ri;
	struct vd_dev d;
	char drv[64];
	char *bar;
	int ret;

	if (argc != 3) {
		fprintf(stderr, "usage: %s BDF MESSAGE\n", argv[0]);
		return 2;
	}
	vd_bound_driver(argv[1], drv, sizeof(drv));
	printf("guest: %s is bound to %s\n", argv[1], drv);
	ret = vd_open_group(&d, argv[1]);
	if (ret) {
		printf("guest: cannot open %s through VFIO: %s\n", argv[1], strerror(-ret));
		return 1;
	}
	printf("guest: opened it through its VFIO group\n");
	ret = vd_region_info(&d, VD_IVSHMEM_BAR, &ri);
	if (ret) {
		printf("guest: no BAR2 region: %s\n", strerror(-ret));
		return 1;
	}
	printf("guest: BAR2 is %llu MiB\n", (unsigned long long)ri.size >> 20);
	bar = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, d.fd, ri.offset);
	if (bar == MAP_FAILED) {
		printf("guest: cannot map BAR2: %s\n", strerror(errno));
		return 1;
	}
	snprintf(bar + MSG_OFFSET, 256, "%s", argv[2]);
	printf("guest: wrote \"%s\" at BAR2 offset 0x%x\n", argv[2], MSG_OFFSET);
	munmap(bar, ri.size);
	vd_close(&d);
	return 0;
}
