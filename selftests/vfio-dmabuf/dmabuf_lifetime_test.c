// SPDX-License-Identifier: GPL-2.0-only
/*
 * What keeps what alive: the VFIO device fd, the dma-bufs exported from it,
 * the driver binding and the exporter's module.
 *
 *  - Unbinding the driver blocks while the device fd is open (vfio asks the
 *    user to let go) and completes as soon as it is closed.
 *  - A dma-buf does not hold the device: closing the device revokes and
 *    detaches it, so the device unbinds while the dma-buf is still open.
 *  - A dma-buf holds the exporter's module: it cannot be unloaded meanwhile.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vd_lib.h"

static const struct vfio_region_dma_range page0 = { .offset = 0, .length = 0x1000 };

FIXTURE(lifetime) {
	char bdf[32];
	struct vd_dev dev;
};

FIXTURE_SETUP(lifetime)
{
	ASSERT_EQ(0, vd_find_bdf(self->bdf, sizeof(self->bdf)));
	ASSERT_EQ(0, vd_open_group(&self->dev, self->bdf));
	ASSERT_EQ(0, vd_set_memory_enable(&self->dev, 1));
}

FIXTURE_TEARDOWN(lifetime)
{
	char drv[64] = "";

	vd_close(&self->dev);
	/* leave the device bound as the runner bound it */
	vd_bound_driver(self->bdf, drv, sizeof(drv));
	if (strcmp(drv, vd_expected_driver()))
		vd_bind(self->bdf, vd_expected_driver());
}

TEST_F(lifetime, unbind_waits_for_the_device_fd)
{
	struct vd_unbinder u;

	ASSERT_EQ(0, vd_unbind_start(&u, self->bdf));
	ASSERT_EQ(0, vd_unbind_wait(&u, 1500)) TH_LOG("unbind did not wait for the open device");
	vd_close(&self->dev);
	ASSERT_EQ(1, vd_unbind_wait(&u, 20000)) TH_LOG("unbind still blocked after close");
	ASSERT_EQ(0, u.ret);
	ASSERT_EQ(0, vd_bind(self->bdf, vd_expected_driver()));
}

TEST_F(lifetime, device_unbinds_while_a_dmabuf_is_open)
{
	struct vd_unbinder u;
	char name[64];
	int fd, base;

	fd = vd_export(self->dev.fd, VD_IVSHMEM_BAR, O_CLOEXEC, 0, &page0, 1, 0);
	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(errno));
	vd_close(&self->dev);
	base = vd_module_refcnt(vd_exporter_module());

	ASSERT_EQ(0, vd_unbind_start(&u, self->bdf));
	ASSERT_EQ(1, vd_unbind_wait(&u, 20000)) TH_LOG("unbind blocked by an open dma-buf");
	ASSERT_EQ(0, u.ret);

	/* the dma-buf is still a dma-buf, and still holds the module */
	ASSERT_EQ(0, vd_fdinfo(fd, "exp_name", name, sizeof(name)));
	ASSERT_EQ(base, vd_module_refcnt(vd_exporter_module()));
	ASSERT_EQ(0, vd_bind(self->bdf, vd_expected_driver()));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(base - 1, vd_module_refcnt(vd_exporter_module()));
	ASSERT_EQ(0, vd_open_group(&self->dev, self->bdf));
}

TEST_F(lifetime, module_stays_while_a_dmabuf_is_open)
{
	const char *mod = vd_exporter_module();
	int base, fd, ret;

	/* the module's count with no device open: the baseline */
	vd_close(&self->dev);
	base = vd_module_refcnt(mod);
	ASSERT_EQ(0, vd_open_group(&self->dev, self->bdf));
	fd = vd_export(self->dev.fd, VD_IVSHMEM_BAR, O_CLOEXEC, 0, &page0, 1, 0);
	ASSERT_LE(0, fd);
	vd_close(&self->dev);
	ASSERT_EQ(0, vd_unbind(self->bdf));
	/* no device open or bound: the dma-buf's own reference is what remains */
	ASSERT_EQ(base + 1, vd_module_refcnt(mod));
	ret = syscall(SYS_delete_module, mod, O_NONBLOCK);
	ASSERT_EQ(-1, ret) TH_LOG("%s unloaded under an open dma-buf", mod);
	ASSERT_EQ(EWOULDBLOCK, errno);
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(base, vd_module_refcnt(mod));
	ASSERT_EQ(0, vd_bind(self->bdf, vd_expected_driver()));
}

/* The device binds again while a dma-buf of its previous binding is open. */
TEST_F(lifetime, device_rebinds_while_an_old_dmabuf_is_open)
{
	int fd;

	fd = vd_export(self->dev.fd, VD_IVSHMEM_BAR, O_CLOEXEC, 0, &page0, 1, 0);
	ASSERT_LE(0, fd);
	vd_close(&self->dev);
	ASSERT_EQ(0, vd_unbind(self->bdf));
	ASSERT_EQ(0, vd_bind(self->bdf, vd_expected_driver()));
	ASSERT_EQ(0, vd_open_group(&self->dev, self->bdf))
		TH_LOG("open after rebind: %s", strerror(errno));
	ASSERT_EQ(0, close(fd));
}

TEST_HARNESS_MAIN
