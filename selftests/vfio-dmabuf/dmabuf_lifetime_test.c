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
 *  - A dma-buf whose struct file is gone while its dentry lives on is never
 *    reached through that file: the device walks, shows, closes and unbinds
 *    as if it were released already.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vd_test.h"

FIXTURE(lifetime) {
	char bdf[32];
	struct vd_dev dev;
	uint32_t bar;
};

static void open_dev(struct __test_metadata *_metadata, struct vd_dev *dev,
		     uint32_t *bar, char *bdf, size_t len)
{
	vd_test_open(_metadata, dev);
	*bar = vd_test_bar(_metadata, dev, NULL);
	snprintf(bdf, len, "%s", dev->bdf);
}

static void close_dev(struct vd_dev *dev, const char *bdf)
{
	char drv[64] = "";

	vd_close(dev);
	/* leave the device bound as the runner bound it */
	vd_bound_driver(bdf, drv, sizeof(drv));
	if (strcmp(drv, vd_env_driver()))
		vd_bind(bdf, vd_env_driver());
}

FIXTURE_SETUP(lifetime)
{
	open_dev(_metadata, &self->dev, &self->bar, self->bdf, sizeof(self->bdf));
}

FIXTURE_TEARDOWN(lifetime)
{
	close_dev(&self->dev, self->bdf);
}

TEST_F(lifetime, unbind_waits_for_the_device_fd)
{
	struct vd_unbinder u;

	ASSERT_EQ(0, vd_unbind_start(&u, self->bdf));
	ASSERT_EQ(0, vd_unbind_wait(&u, 1500)) TH_LOG("unbind did not wait for the open device");
	vd_close(&self->dev);
	ASSERT_EQ(1, vd_unbind_wait(&u, 20000)) TH_LOG("unbind still blocked after close");
	ASSERT_EQ(0, u.ret);
	ASSERT_EQ(0, vd_bind(self->bdf, vd_env_driver()));
}

TEST_F(lifetime, device_unbinds_while_a_dmabuf_is_open)
{
	struct vd_unbinder u;
	char name[64];
	int fd, base;

	fd = VD_ASSERT_OK(vd_export(self->dev.fd, self->bar, O_CLOEXEC, 0, &page0, 1, 0));
	vd_close(&self->dev);
	base = vd_module_refcnt(vd_env_exporter_module());

	ASSERT_EQ(0, vd_unbind_start(&u, self->bdf));
	ASSERT_EQ(1, vd_unbind_wait(&u, 20000)) TH_LOG("unbind blocked by an open dma-buf");
	ASSERT_EQ(0, u.ret);

	/* the dma-buf is still a dma-buf, and still holds the module */
	ASSERT_EQ(0, vd_fdinfo(fd, "exp_name", name, sizeof(name)));
	ASSERT_EQ(base, vd_module_refcnt(vd_env_exporter_module()));
	ASSERT_EQ(0, vd_bind(self->bdf, vd_env_driver()));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(base - 1, vd_module_refcnt(vd_env_exporter_module()));
	ASSERT_EQ(0, vd_open_group(&self->dev, self->bdf));
}

TEST_F(lifetime, module_stays_while_a_dmabuf_is_open)
{
	const char *mod = vd_env_exporter_module();
	int base, fd, ret;

	/* the module's count with no device open: the baseline */
	vd_close(&self->dev);
	base = vd_module_refcnt(mod);
	ASSERT_EQ(0, vd_open_group(&self->dev, self->bdf));
	fd = VD_ASSERT_OK(vd_export(self->dev.fd, self->bar, O_CLOEXEC, 0, &page0, 1, 0));
	vd_close(&self->dev);
	ASSERT_EQ(0, vd_unbind(self->bdf));
	/* no device open or bound: the dma-buf's own reference is what remains */
	ASSERT_EQ(base + 1, vd_module_refcnt(mod));
	ret = syscall(SYS_delete_module, mod, O_NONBLOCK);
	ASSERT_EQ(-1, ret) TH_LOG("%s unloaded under an open dma-buf", mod);
	ASSERT_EQ(EWOULDBLOCK, errno);
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(base, vd_module_refcnt(mod));
	ASSERT_EQ(0, vd_bind(self->bdf, vd_env_driver()));
}

/* The device binds again while a dma-buf of its previous binding is open. */
TEST_F(lifetime, device_rebinds_while_an_old_dmabuf_is_open)
{
	int fd;

	fd = VD_ASSERT_OK(vd_export(self->dev.fd, self->bar, O_CLOEXEC, 0, &page0, 1, 0));
	vd_close(&self->dev);
	ASSERT_EQ(0, vd_unbind(self->bdf));
	ASSERT_EQ(0, vd_bind(self->bdf, vd_env_driver()));
	ASSERT_EQ(0, vd_open_group(&self->dev, self->bdf))
		TH_LOG("open after rebind: %s failed", self->dev.step);
	ASSERT_EQ(0, close(fd));
}

/* readlink() of /proc/self/fd/N into a page that stalls its copy_to_user. */
struct stalled_readlink {
	pthread_t thread;
	char path[64];
	char *buf;
	ssize_t ret;
};

static void *readlink_thread(void *arg)
{
	struct stalled_readlink *r = arg;

	r->ret = readlink(r->path, r->buf, 64);
	return NULL;
}

/*
 * From debugfs: how many dma-buf lines the device lists, and whether each
 * names inode @ino. -1 without the file.
 */
static int listed_dmabufs(const char *bdf, unsigned long ino, int *foreign)
{
	char line[512];
	unsigned long got;
	int n = 0;
	FILE *f;

	f = vd_dbg_open(bdf);
	if (!f)
		return -1;
	*foreign = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "dmabuf %lu ", &got) != 1)
			continue;
		n++;
		if (got != ino)
			(*foreign)++;
	}
	fclose(f);
	return n;
}

/*
 * A dma-buf's ->release is its dentry's d_release, and __fput() frees the
 * struct file right after dropping the dentry. A readlink of /proc/self/fd/N
 * holds the dentry across its copy_to_user: stall that copy, close the fd,
 * and the file is freed while the dma-buf is still on the device's list,
 * its slab slot left free or reused by the /dev/null files opened next (the
 * variants). Every walk of that list must then neither follow the dead file
 * (a foreign inode in debugfs, a reference taken on someone else's file, or
 * on freed memory) nor leave the device waiting for a release that the
 * stall holds back.
 *
 * Mainline follows the file (upstream/, file-lifetime): with the slot left
 * free its close leaves the dma-buf to the release and the unbind waits for
 * the stall; with the slot reused a release racing the walk crashes it.
 */
FIXTURE(dentry) {
	char bdf[32];
	struct vd_dev dev;
	uint32_t bar;
};

FIXTURE_VARIANT(dentry) {
	int reuse_slot;
};

FIXTURE_VARIANT_ADD(dentry, slot_free) {
	.reuse_slot = 0,
};

FIXTURE_VARIANT_ADD(dentry, slot_reused) {
	.reuse_slot = 1,
};

FIXTURE_SETUP(dentry)
{
	open_dev(_metadata, &self->dev, &self->bar, self->bdf, sizeof(self->bdf));
}

FIXTURE_TEARDOWN(dentry)
{
	close_dev(&self->dev, self->bdf);
}

TEST_F(dentry, outlives_the_file)
{
	struct rlimit rl = { .rlim_cur = 20000, .rlim_max = 20000 };
	struct stalled_readlink r = {};
	struct vd_unbinder u;
	struct vd_stall st;
	int fd, i, foreign, nulls = 0;
	int *null;
	struct stat sb;

	if (vd_env_mainline_bug("file-lifetime"))
		SKIP(return, "mainline takes a reference through the freed file here: "
		     "no single outcome, and a racing release crashes it "
		     "(docs/revoke-triggers.md, Hostile lifetimes; upstream/, file-lifetime)");
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	null = calloc(rl.rlim_cur, sizeof(*null));
	ASSERT_NE(NULL, null);
	ASSERT_EQ(0, vd_stall_init(&st, 1)) TH_LOG("userfaultfd: %s", strerror(errno));

	fd = VD_ASSERT_OK(vd_export(self->dev.fd, self->bar, O_CLOEXEC, 0, &page0, 1, 0));
	ASSERT_EQ(0, fstat(fd, &sb));
	snprintf(r.path, sizeof(r.path), "/proc/self/fd/%d", fd);
	r.buf = st.page;
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, readlink_thread, &r));
	ASSERT_EQ(1, vd_stall_wait(&st, 10000)) TH_LOG("readlink never reached its copy");

	/* the file goes; the dentry, and so the dma-buf, stay */
	ASSERT_EQ(0, close(fd));
	usleep(100000);		/* 6.1 frees files after an RCU grace period */
	for (i = 0; variant->reuse_slot && i < (int)rl.rlim_cur - 64; i++) {
		null[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null[i] < 0)
			break;
		nulls++;
	}
	if (variant->reuse_slot)
		ASSERT_LT(1000, nulls);

	/* every walk, with the dma-buf listed and its file gone */
	if (!vd_env_is_mainline()) {
		ASSERT_EQ(1, listed_dmabufs(self->bdf, sb.st_ino, &foreign))
			TH_LOG("debugfs should list the unreleased dma-buf");
		ASSERT_EQ(0, foreign) TH_LOG("debugfs shows another file's inode");
	}
	ASSERT_EQ(0, vd_set_memory_enable(&self->dev, 0));
	ASSERT_EQ(0, vd_set_memory_enable(&self->dev, 1));
	ASSERT_EQ(0, ioctl(self->dev.fd, VFIO_DEVICE_RESET)) TH_LOG("reset: %s", strerror(errno));
	if (!vd_env_is_mainline()) {
		ASSERT_EQ(1, listed_dmabufs(self->bdf, sb.st_ino, &foreign));
		ASSERT_EQ(0, foreign) TH_LOG("debugfs shows another file's inode");
	}
	vd_close(&self->dev);
	if (!vd_env_is_mainline()) {
		ASSERT_EQ(0, vd_dbg_exports(self->bdf))
			TH_LOG("close should drop the device's count");
		ASSERT_EQ(0, listed_dmabufs(self->bdf, sb.st_ino, &foreign))
			TH_LOG("close should detach the dma-buf");
	}

	/* the device goes without waiting for the stalled release */
	ASSERT_EQ(0, vd_unbind_start(&u, self->bdf));
	ASSERT_EQ(1, vd_unbind_wait(&u, 20000)) TH_LOG("unbind waits for the stalled release");
	ASSERT_EQ(0, u.ret);

	/* let the readlink finish: the last dput releases the dma-buf */
	ASSERT_EQ(0, vd_stall_release(&st, NULL));
	ASSERT_EQ(0, pthread_join(r.thread, NULL));
	ASSERT_LT(0, r.ret);
	for (i = 0; i < nulls; i++)
		close(null[i]);
	free(null);
	vd_stall_fini(&st);

	ASSERT_EQ(0, vd_bind(self->bdf, vd_env_driver()));
	ASSERT_EQ(0, vd_open_group(&self->dev, self->bdf));
	if (!vd_env_is_mainline())
		ASSERT_EQ(0, vd_dbg_exports(self->bdf))
			TH_LOG("the device's count of live dma-bufs");
	fd = VD_ASSERT_OK(vd_export(self->dev.fd, self->bar, O_CLOEXEC, 0, &page0, 1, 0));
	if (!vd_env_is_mainline())
		ASSERT_EQ(1, vd_dbg_exports(self->bdf));
	ASSERT_EQ(0, close(fd));
}

TEST_HARNESS_MAIN
