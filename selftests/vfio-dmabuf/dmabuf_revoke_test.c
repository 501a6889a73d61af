// SPDX-License-Identifier: GPL-2.0-only
/*
 * Every path that takes MMIO away revokes the dma-bufs, and the paths that
 * give it back re-grant them. One test per trigger: an importer holding a
 * mapping is told (move_notify), loses the mapping, cannot map while the
 * BAR is away, and maps again once it is back.
 *
 * ivshmem sits alone behind a root port (bus reset); virtio-rng, also behind
 * one, has FLR and PCI power management.
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "kselftest_harness.h"
#include "vd_test.h"

#define VIRTIO_MODERN_BAR	VFIO_PCI_BAR4_REGION_INDEX

/* rig_setup()'s region: the BAR vd_env_bar() picks */
#define ENV_BAR		UINT32_MAX

/* The triggers vfio-pci-dmabuf counts in debugfs. */
static const char *const counted[] = {
	"config", "reset", "low_power", "aer", "close", "remove",
};
#define NR_COUNTED	(sizeof(counted) / sizeof(counted[0]))

struct rig {
	struct vd_dev dev;
	int imp;
	uint32_t region;	/* the BAR exported */
	/* debugfs counts when the importer had mapped */
	long revokes[NR_COUNTED], regrants[NR_COUNTED];
};

/* Open @bdf, export @region's first page, attach the importer and map it. */
static int rig_setup(struct __test_metadata *_metadata, struct rig *r,
		     const char *bdf, uint32_t region, uint32_t flags)
{
	struct vfio_region_info ri;
	int fd, ret;

	r->imp = vd_importer_open();
	if (r->imp < 0)
		return r->imp;
	ret = vd_open_group(&r->dev, bdf);
	if (ret)
		return ret;
	/* also looks up the config region's offset, for the raw writes below */
	ret = vd_set_memory_enable(&r->dev, 1);
	if (ret)
		return ret;
	if (region == ENV_BAR) {
		ret = vd_env_bar(&r->dev, &ri);
		if (ret < 0)
			return ret;
		region = ret;
	}
	r->region = region;
	fd = vd_export(r->dev.fd, region, O_CLOEXEC, 0, &page0, 1, 0);
	if (fd < 0)
		return fd;
	ret = vd_importer_attach(r->imp, fd, flags);
	close(fd);
	if (!ret)
		ret = vd_importer_watch(r->imp, bdf);
	if (!ret)
		ret = vd_importer_map(r->imp);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	for (unsigned int i = 0; i < NR_COUNTED; i++) {
		r->revokes[i] = vd_dbg_count(bdf, "revokes", counted[i]);
		r->regrants[i] = vd_dbg_count(bdf, "regrants", counted[i]);
	}
	return 0;
}

/*
 * Ours counts every revoke and re-grant per trigger in debugfs: check that
 * since setup exactly @revokes and @regrants were counted under @trigger,
 * and nothing under any other. Mainline has no such file.
 */
static void expect_counted(struct __test_metadata *_metadata, struct rig *r,
			   const char *trigger, long revokes, long regrants)
{
	unsigned int i;

	if (vd_env_is_mainline())
		return;
	for (i = 0; i < NR_COUNTED; i++) {
		int it = trigger && !strcmp(counted[i], trigger);
		long rv = vd_dbg_count(r->dev.bdf, "revokes", counted[i]);
		long rg = vd_dbg_count(r->dev.bdf, "regrants", counted[i]);

		ASSERT_LE(0, rv) TH_LOG("no debugfs count revokes %s", counted[i]);
		ASSERT_EQ(it ? revokes : 0, rv - r->revokes[i])
			TH_LOG("debugfs: revokes counted under %s", counted[i]);
		ASSERT_EQ(it ? regrants : 0, rg - r->regrants[i])
			TH_LOG("debugfs: re-grants counted under %s", counted[i]);
	}
}

#define EXPECT_COUNTED(trigger, revokes, regrants) \
	expect_counted(_metadata, &self->r, trigger, revokes, regrants)

static void rig_teardown(struct rig *r)
{
	if (r->imp >= 0)
		close(r->imp);
	vd_close(&r->dev);
}

/*
 * What a trigger did to the importer's mapping, in the words of the trigger
 * table. After a trigger that takes MMIO away and gives it back (a reset):
 * "revoked, then re-granted"; after one that only takes it away: "revoked";
 * and "not revoked" when the importer was never told.
 */
static const char *outcome(struct rig *r, int gives_back)
{
	struct vdti_status st = vd_importer_status(r->imp);
	int mapped;

	if (!st.move_notifies && st.mapped)
		return "not revoked";
	if (!st.invalidated || st.mapped)
		return "told, but kept its mapping";
	if (st.late_notifies)
		return "told only after the BAR was gone";
	mapped = vd_importer_map(r->imp) == 1;
	if (mapped)
		vd_importer_unmap(r->imp);
	if (gives_back)
		return mapped ? "revoked, then re-granted" : "revoked, not re-granted";
	return mapped ? "told, but can still map" : "revoked";
}

/* Give back after a take-away step: the importer maps again. */
static const char *regrant_outcome(struct rig *r)
{
	if (vd_importer_map(r->imp) != 1)
		return "still revoked";
	vd_importer_unmap(r->imp);
	return "re-granted";
}

/*
 * After a step that may give the BAR back, when the importer was perhaps
 * never told it was gone: "never revoked" then, else as regrant_outcome().
 */
static const char *regrant_outcome_after(struct rig *r)
{
	struct vdti_status st = vd_importer_status(r->imp);

	if (st.mapped && !st.move_notifies)
		return "never revoked";
	return regrant_outcome(r);
}

/*
 * Record what @trigger did and check it: @ours is what our driver must do,
 * @mainline what mainline vfio-pci does (where it does less, the table shows
 * where we go beyond it).
 */
#define EXPECT_TRIGGER(trigger, ours, mainline, got) do {			\
	const char *_got = (got);						\
										\
	vd_trigger_row(trigger, _got);						\
	ASSERT_STREQ(vd_env_is_mainline() ? (mainline) : (ours), _got);		\
} while (0)

#define REGRANTED	"revoked, then re-granted"

/*
 * What mainline does where one of upstream/'s patches (@fix, its name in
 * upstream/series) changes it: @bug on a kernel without it, else @fixed.
 */
#define MAINLINE(fix, bug, fixed) (vd_env_mainline_bug(fix) ? (bug) : (fixed))

FIXTURE(ivshmem) {
	struct rig r;
};

FIXTURE_SETUP(ivshmem)
{
	char bdf[32];
	int ret;

	self->r.imp = -1;
	VD_NEED_IMPORTER();
	ASSERT_EQ(0, vd_env_bdf(bdf, sizeof(bdf)));
	ret = rig_setup(_metadata, &self->r, bdf, ENV_BAR, 0);
	ASSERT_EQ(0, ret) TH_LOG("setup: %s", vd_strerr(ret));
}

FIXTURE_TEARDOWN(ivshmem)
{
	rig_teardown(&self->r);
}

TEST_F(ivshmem, vfio_device_reset)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };

	ASSERT_EQ(0, ioctl(self->r.dev.fd, VFIO_DEVICE_GET_INFO, &info));
	VD_NEED_DEVICE(info.flags & VFIO_DEVICE_FLAGS_RESET, "reset vfio can use");
	ASSERT_TRUE(info.flags & VFIO_DEVICE_FLAGS_RESET)
		TH_LOG("ivshmem behind its root port should have a bus reset");
	ASSERT_EQ(0, ioctl(self->r.dev.fd, VFIO_DEVICE_RESET))
		TH_LOG("RESET: %s", strerror(errno));
	EXPECT_TRIGGER("VFIO_DEVICE_RESET", REGRANTED, REGRANTED, outcome(&self->r, 1));
	EXPECT_COUNTED("reset", 1, 1);
}

TEST_F(ivshmem, vfio_device_pci_hot_reset)
{
	struct vfio_pci_hot_reset_info *info;
	struct vfio_pci_hot_reset *reset;
	size_t sz = sizeof(*info) + 8 * sizeof(struct vfio_pci_dependent_device);

	VD_NEED_RIG("ivshmem alone behind a root port (a bus reset touches the whole bus)");
	info = calloc(1, sz);
	ASSERT_NE(NULL, info);
	info->argsz = sz;
	ASSERT_EQ(0, ioctl(self->r.dev.fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info))
		TH_LOG("HOT_RESET_INFO: %s", strerror(errno));
	ASSERT_EQ(1, info->count) TH_LOG("ivshmem should be alone on its bus");
	reset = calloc(1, sizeof(*reset) + sizeof(int32_t));
	ASSERT_NE(NULL, reset);
	reset->argsz = sizeof(*reset) + sizeof(int32_t);
	reset->count = 1;
	reset->group_fds[0] = self->r.dev.group;
	ASSERT_EQ(0, ioctl(self->r.dev.fd, VFIO_DEVICE_PCI_HOT_RESET, reset))
		TH_LOG("HOT_RESET: %s", strerror(errno));
	EXPECT_TRIGGER("VFIO_DEVICE_PCI_HOT_RESET", REGRANTED, REGRANTED,
		       outcome(&self->r, 1));
	EXPECT_COUNTED("reset", 1, 1);
	free(reset);
	free(info);
}

/* A reset nobody asked VFIO for: the PCI core's own, from sysfs. */
TEST_F(ivshmem, sysfs_reset)
{
	char path[128];
	int fd;

	VD_NEED_RIG("ivshmem alone behind a root port (the PCI core may reset the bus)");
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset", self->r.dev.bdf);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, write(fd, "1", 1)) TH_LOG("sysfs reset: %s", strerror(errno));
	close(fd);
	EXPECT_TRIGGER("reset through sysfs (not through VFIO)", REGRANTED,
		       MAINLINE("sysfs-reset", "not revoked", REGRANTED), outcome(&self->r, 1));
	EXPECT_COUNTED("reset", 1, 1);
}

TEST_F(ivshmem, memory_disable_then_enable)
{
	ASSERT_EQ(0, vd_set_memory_enable(&self->r.dev, 0));
	EXPECT_TRIGGER("config write: memory decode off", "revoked", "revoked",
		       outcome(&self->r, 0));
	EXPECT_COUNTED("config", 1, 0);
	ASSERT_EQ(0, vd_set_memory_enable(&self->r.dev, 1));
	EXPECT_TRIGGER("config write: memory decode on again", "re-granted",
		       "re-granted", regrant_outcome(&self->r));
	EXPECT_COUNTED("config", 1, 1);
}

/* A config write that cannot touch memory decode revokes nothing. */
TEST_F(ivshmem, unrelated_config_write_keeps_the_mapping)
{
	uint8_t lat = 0x40;

	ASSERT_EQ(0, vd_cfg_write(&self->r.dev, PCI_LATENCY_TIMER, &lat, 1));
	EXPECT_TRIGGER("config write of another register (latency timer)",
		       "not revoked", "not revoked", outcome(&self->r, 0));
	EXPECT_COUNTED(NULL, 0, 0);
}

/*
 * A command write that leaves memory decode on: ours revokes for the write
 * and re-grants after it, because only vfio_pci_core's own copy of the
 * value decides, and userspace may change its buffer between any read of
 * ours and that copy (command_write_buffer_changes_under_the_core).
 */
TEST_F(ivshmem, command_write_keeping_memory_on)
{
	ASSERT_EQ(0, vd_set_memory_enable(&self->r.dev, 1));
	EXPECT_TRIGGER("config write: command register, memory decode stays on",
		       REGRANTED, "not revoked", outcome(&self->r, 1));
	EXPECT_COUNTED("config", 1, 1);
}

/*
 * What the device did under the importer: whether memory decode went off
 * while it still held a mapping, or before it was told.
 */
static const char *decode_under_mapping(struct rig *r)
{
	struct vdti_status st = vd_importer_status(r->imp);
	uint16_t cmd;

	if (st.late_notifies)
		return "told only after memory decode went off";
	if (vd_cfg_read(&r->dev, PCI_COMMAND, &cmd, 2))
		return "config read failed";
	if (st.mapped && !(cmd & PCI_COMMAND_MEMORY))
		return "still mapped with memory decode off";
	return "memory decode never off under a mapping";
}

/*
 * The command register's two bytes straddle a page boundary; the second
 * page stalls the first kernel read that reaches it. While it stalls, the
 * first byte flips memory decode off: a kernel that read the buffer before
 * (to decide whether to revoke) and reads it again for the write sees two
 * different values. Whatever it read, memory decode must not go off under a
 * live mapping.
 */
struct straddle {
	struct rig *r;
	char *buf;
	ssize_t ret;
};

static void *straddle_write(void *arg)
{
	struct straddle *w = arg;

	w->ret = pwrite(w->r->dev.fd, w->buf, 2, w->r->dev.cfg_offset + PCI_COMMAND);
	return NULL;
}

TEST_F(ivshmem, command_write_buffer_changes_under_the_core)
{
	struct straddle w = { .r = &self->r };
	struct vd_stall st;
	pthread_t thread;
	uint16_t cmd;
	char *high;

	ASSERT_EQ(0, vd_cfg_read(&self->r.dev, PCI_COMMAND, &cmd, 2));
	ASSERT_TRUE(cmd & PCI_COMMAND_MEMORY) TH_LOG("memory decode should be on");
	ASSERT_EQ(0, vd_stall_init(&st, 2)) TH_LOG("userfaultfd: %s", strerror(errno));
	w.buf = st.page - 1;
	w.buf[0] = cmd & 0xff;			/* memory decode on... */
	ASSERT_EQ(0, pthread_create(&thread, NULL, straddle_write, &w));
	ASSERT_EQ(1, vd_stall_wait(&st, 10000)) TH_LOG("the write never touched its buffer");
	w.buf[0] = cmd & 0xff & ~PCI_COMMAND_MEMORY;		/* ...and off before the write lands */
	high = calloc(1, getpagesize());
	ASSERT_NE(NULL, high);
	high[0] = cmd >> 8;
	ASSERT_EQ(0, vd_stall_release(&st, high));
	ASSERT_EQ(0, pthread_join(thread, NULL));
	free(high);
	vd_stall_fini(&st);
	ASSERT_EQ(2, w.ret) TH_LOG("write: %s", strerror(errno));
	EXPECT_TRIGGER("config write: command, its buffer changed while the kernel reads it",
		       "memory decode never off under a mapping",
		       "memory decode never off under a mapping",
		       decode_under_mapping(&self->r));
	/* the BAR is usable again once memory decode is on */
	ASSERT_EQ(0, vd_set_memory_enable(&self->r.dev, 1));
	ASSERT_STRNE("still revoked", regrant_outcome_after(&self->r));
}

/* A thread flips memory decode in the buffer a command write is made from. */
struct flipper {
	volatile uint16_t cmd;
	atomic_int stop;
};

static void *flip(void *arg)
{
	struct flipper *f = arg;

	while (!atomic_load(&f->stop))
		f->cmd ^= PCI_COMMAND_MEMORY;
	return NULL;
}

TEST_F(ivshmem, command_write_racing_a_flipping_thread)
{
	struct flipper f = {};
	struct timespec t0, t;
	struct vdti_status vst;
	pthread_t thread;
	int n = 0, off = 0;
	uint16_t cmd;

	ASSERT_EQ(0, vd_cfg_read(&self->r.dev, PCI_COMMAND, &cmd, 2));
	f.cmd = cmd | PCI_COMMAND_MEMORY;
	ASSERT_EQ(0, pthread_create(&thread, NULL, flip, &f));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		/* memory decode on and the importer mapped... */
		ASSERT_EQ(0, vd_set_memory_enable(&self->r.dev, 1));
		if (!vd_importer_status(self->r.imp).mapped)
			ASSERT_EQ(1, VD_ASSERT_OK(vd_importer_map(self->r.imp)));
		/* ...then a write whose value is anyone's guess */
		ASSERT_EQ(2, pwrite(self->r.dev.fd, (void *)&f.cmd, 2,
				    self->r.dev.cfg_offset + PCI_COMMAND));
		ASSERT_EQ(0, vd_cfg_read(&self->r.dev, PCI_COMMAND, &cmd, 2));
		off += !(cmd & PCI_COMMAND_MEMORY);
		vst = vd_importer_status(self->r.imp);
		ASSERT_EQ(0, vst.late_notifies)
			TH_LOG("memory decode went off under a live mapping (write %d)", n);
		ASSERT_FALSE(vst.mapped && !(cmd & PCI_COMMAND_MEMORY))
			TH_LOG("mapped while memory decode is off (write %d)", n);
		n++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (n < 2000 && t.tv_sec - t0.tv_sec < 5);
	atomic_store(&f.stop, 1);
	pthread_join(thread, NULL);
	TH_LOG("%d writes, %d of them turned memory decode off", n, off);
	ASSERT_EQ(0, vd_set_memory_enable(&self->r.dev, 1));
}

TEST_F(ivshmem, device_close)
{
	vd_close(&self->r.dev);
	EXPECT_TRIGGER("close of the VFIO device", "revoked", "revoked",
		       outcome(&self->r, 0));
	EXPECT_COUNTED("close", 1, 0);
}

/*
 * Unbind revokes at once, then waits for the device fd: importers do not
 * keep DMA addresses into a device that is going away (after a hot-unplug
 * that range may go to the next device) while the VMM takes its time.
 */
TEST_F(ivshmem, driver_unbind)
{
	struct vd_unbinder u;
	int i;

	ASSERT_EQ(0, vd_unbind_start(&u, self->r.dev.bdf));
	for (i = 0; i < 100 && !vd_importer_status(self->r.imp).move_notifies && !vd_env_is_mainline(); i++)
		usleep(20000);
	ASSERT_EQ(0, vd_unbind_wait(&u, 300)) TH_LOG("unbind did not wait for the device fd");
	EXPECT_TRIGGER("driver unbind, device fd still open", "revoked",
		       "not revoked", outcome(&self->r, 0));
	vd_close(&self->r.dev);
	ASSERT_EQ(1, vd_unbind_wait(&u, 20000)) TH_LOG("unbind still blocked after close");
	ASSERT_EQ(0, u.ret);
	EXPECT_TRIGGER("driver unbind, once the device fd is closed", "revoked",
		       "revoked", outcome(&self->r, 0));
	ASSERT_EQ(0, vd_bind(u.bdf, vd_env_driver()));
}

FIXTURE(virtio) {
	struct rig r;
};

FIXTURE_SETUP(virtio)
{
	const char *bdf = getenv("VD_PM_BDF");
	int ret;

	self->r.imp = -1;
	VD_NEED_IMPORTER();
	ASSERT_NE(NULL, bdf) TH_LOG("the rig binds virtio-rng and sets VD_PM_BDF");
	ret = rig_setup(_metadata, &self->r, bdf,
			vd_env_real_host() ? ENV_BAR : VIRTIO_MODERN_BAR, 0);
	ASSERT_EQ(0, ret) TH_LOG("setup: %s", vd_strerr(ret));
}

FIXTURE_TEARDOWN(virtio)
{
	rig_teardown(&self->r);
}

static int set_power_state(struct rig *r, unsigned int pm, uint16_t state)
{
	uint16_t ctrl;

	if (vd_cfg_read(&r->dev, pm + PCI_PM_CTRL, &ctrl, 2))
		return -EIO;
	ctrl = (ctrl & ~3) | state;
	return vd_cfg_write(&r->dev, pm + PCI_PM_CTRL, &ctrl, 2);
}

TEST_F(virtio, d3hot_then_d0)
{
	int pm = vd_cfg_find_cap(&self->r.dev, PCI_CAP_ID_PM);

	VD_NEED_DEVICE(pm > 0, "PCI power management capability");
	VD_ASSERT_OK(pm);
	ASSERT_EQ(0, set_power_state(&self->r, pm, 3));
	EXPECT_TRIGGER("config write: PM control to D3hot", "revoked", "revoked",
		       outcome(&self->r, 0));
	EXPECT_COUNTED("config", 1, 0);
	ASSERT_EQ(0, set_power_state(&self->r, pm, 0));
	EXPECT_TRIGGER("config write: PM control back to D0", "re-granted",
		       "re-granted", regrant_outcome(&self->r));
	EXPECT_COUNTED("config", 1, 1);
}

TEST_F(virtio, flr_through_config_space)
{
	int exp = vd_cfg_find_cap(&self->r.dev, PCI_CAP_ID_EXP);
	uint32_t devcap = 0;
	uint16_t devctl;

	if (exp > 0)
		vd_cfg_read(&self->r.dev, exp + PCI_EXP_DEVCAP, &devcap, 4);
	VD_NEED_DEVICE(devcap & PCI_EXP_DEVCAP_FLR, "function level reset");
	VD_ASSERT_OK(exp);

	ASSERT_EQ(0, vd_cfg_read(&self->r.dev, exp + PCI_EXP_DEVCTL, &devctl, 2));
	devctl |= PCI_EXP_DEVCTL_BCR_FLR;
	ASSERT_EQ(0, vd_cfg_write(&self->r.dev, exp + PCI_EXP_DEVCTL, &devctl, 2));
	EXPECT_TRIGGER("config write: PCIe FLR", REGRANTED, REGRANTED,
		       outcome(&self->r, 1));
	EXPECT_COUNTED("reset", 1, 1);
}

static int low_power(struct rig *r, uint32_t feature)
{
	return vd_feature(r->dev.fd, VFIO_DEVICE_FEATURE_SET | feature, NULL, 0);
}

static int runtime_suspended(const char *bdf, int ms)
{
	char path[128], st[32];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/power/runtime_status", bdf);
	for (; ms > 0; ms -= 20) {
		if (!vd_read_file(path, st, sizeof(st)) && !strcmp(st, "suspended"))
			return 1;
		usleep(20000);
	}
	return 0;
}

/*
 * LOW_POWER_ENTRY_WITH_WAKEUP: any access that resumes the device ends the
 * low-power state and signals the eventfd; LOW_POWER_EXIT is optional then.
 * The BAR is back, so is the dma-buf.
 */
TEST_F(virtio, low_power_wakeup_regrants)
{
	struct vfio_device_low_power_entry_with_wakeup w;
	struct pollfd pfd = { .events = POLLIN };
	uint16_t cmd;

	pfd.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, pfd.fd);
	w.wakeup_eventfd = pfd.fd;
	w.reserved = 0;
	VD_ASSERT_OK(vd_feature(self->r.dev.fd, VFIO_DEVICE_FEATURE_SET |
				VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP, &w, sizeof(w)));
	EXPECT_TRIGGER("VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP", "revoked",
		       "revoked", outcome(&self->r, 0));
	ASSERT_EQ(1, runtime_suspended(self->r.dev.bdf, 10000))
		TH_LOG("the device never runtime-suspended");
	/* a config read through vfio resumes it: the wake-up */
	ASSERT_EQ(0, vd_cfg_read(&self->r.dev, PCI_COMMAND, &cmd, 2));
	ASSERT_EQ(1, poll(&pfd, 1, 5000)) TH_LOG("no wake-up signalled");
	EXPECT_TRIGGER("wake-up from low power (a config read resumes the device)",
		       "re-granted", MAINLINE("wakeup-regrant", "still revoked", "re-granted"),
		       regrant_outcome(&self->r));
	EXPECT_COUNTED("low_power", 1, 1);
	close(pfd.fd);
}

TEST_F(virtio, low_power_entry_then_exit)
{
	VD_ASSERT_OK(low_power(&self->r, VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY));
	EXPECT_TRIGGER("VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY", "revoked", "revoked",
		       outcome(&self->r, 0));
	EXPECT_COUNTED("low_power", 1, 0);
	VD_ASSERT_OK(low_power(&self->r, VFIO_DEVICE_FEATURE_LOW_POWER_EXIT));
	EXPECT_TRIGGER("VFIO_DEVICE_FEATURE_LOW_POWER_EXIT", "re-granted",
		       "re-granted", regrant_outcome(&self->r));
	EXPECT_COUNTED("low_power", 1, 1);
}

/*
 * An export made in the low power state: the ioctl resumes the device for
 * its duration, and the device suspends again once it returns. The new
 * dma-buf is born revoked, and re-granted at the exit like the others.
 */
TEST_F(virtio, export_in_low_power_is_born_revoked)
{
	int fd, segs;

	VD_ASSERT_OK(low_power(&self->r, VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY));
	ASSERT_EQ(1, runtime_suspended(self->r.dev.bdf, 10000))
		TH_LOG("the device never runtime-suspended");
	fd = VD_ASSERT_OK(vd_export(self->r.dev.fd, self->r.region, O_CLOEXEC, 0, &page0, 1, 0));
	ASSERT_EQ(1, runtime_suspended(self->r.dev.bdf, 10000))
		TH_LOG("the device stayed resumed after the export");
	segs = vd_importer_roundtrip(fd);
	EXPECT_TRIGGER("export during VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY: the new dma-buf",
		       "born revoked", MAINLINE("low-power-export", "maps while suspended",
						"born revoked"),
		       segs == -ENODEV ? "born revoked" : segs == 1 ? "maps while suspended" :
		       vd_strerr(segs));
	VD_ASSERT_OK(low_power(&self->r, VFIO_DEVICE_FEATURE_LOW_POWER_EXIT));
	segs = vd_importer_roundtrip(fd);
	EXPECT_TRIGGER("VFIO_DEVICE_FEATURE_LOW_POWER_EXIT: the dma-buf born revoked",
		       "re-granted", "re-granted", segs == 1 ? "re-granted" : vd_strerr(segs));
	ASSERT_EQ(0, close(fd));
}

/* The layout /dev/aer_inject reads (drivers/pci/pcie/aer_inject.c). */
struct aer_error_inj {
	uint8_t bus;
	uint8_t dev;
	uint8_t fn;
	uint32_t uncor_status;
	uint32_t cor_status;
	uint32_t header_log[4];
	uint32_t domain;
};


/* Ask vfio to signal an eventfd when the core reports an AER error. */
static int err_eventfd(struct rig *r)
{
	struct {
		struct vfio_irq_set set;
		int32_t fd;
	} irq = {
		.set.argsz = sizeof(irq),
		.set.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
		.set.index = VFIO_PCI_ERR_IRQ_INDEX,
		.set.count = 1,
	};

	irq.fd = eventfd(0, EFD_CLOEXEC);
	if (irq.fd < 0 || ioctl(r->dev.fd, VFIO_DEVICE_SET_IRQS, &irq))
		return -1;
	return irq.fd;
}

/* Inject @uncor (PCI_ERR_UNC_*) at @bdf through /dev/aer_inject. 0 or -errno. */
static int aer_inject(const char *bdf, uint32_t uncor)
{
	struct aer_error_inj inj = { .uncor_status = uncor };
	unsigned int domain, bus, dev, fn;
	int aer, ret = 0;

	if (sscanf(bdf, "%x:%x:%x.%x", &domain, &bus, &dev, &fn) != 4)
		return -EINVAL;
	inj.domain = domain;
	inj.bus = bus;
	inj.dev = dev;
	inj.fn = fn;
	aer = open("/dev/aer_inject", O_WRONLY | O_CLOEXEC);
	if (aer < 0)
		return -errno;
	if (write(aer, &inj, sizeof(inj)) != sizeof(inj))
		ret = -errno;
	close(aer);
	return ret;
}

/* The command register as the hardware has it: sysfs reads the device. */
static int hw_command(const char *bdf)
{
	char path[128];
	uint16_t cmd;
	int fd, n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, &cmd, 2, 4);
	close(fd);
	return n == 2 ? cmd : -EIO;
}

/*
 * After a fatal error, recovery resets the link below the root port (a
 * secondary bus reset, without the reset hooks), which leaves the device's
 * command register 0 and its BARs unprogrammed; then, if the link comes
 * back, resume. Wait until the hardware shows the reset and recovery has had
 * its time (the link wait of a failing recovery is 1 s on 6.1, 100 ms later).
 */
static void wait_for_recovery(const char *bdf)
{
	int i;

	for (i = 0; i < 500 && hw_command(bdf) != 0; i++)
		usleep(20000);
	sleep(2);
}

/* Inject a fatal error at the open device, and wait for its recovery. */
static int aer_fatal_and_wait(struct rig *r, const char *bdf)
{
	struct pollfd pfd = { .events = POLLIN };
	int ret;

	pfd.fd = err_eventfd(r);
	if (pfd.fd < 0)
		return -errno;
	ret = aer_inject(bdf, PCI_ERR_UNC_MALF_TLP);
	if (!ret && poll(&pfd, 1, 10000) != 1)
		ret = -ETIMEDOUT;	/* error_detected never ran */
	close(pfd.fd);
	if (!ret)
		wait_for_recovery(bdf);
	return ret;
}

/*
 * A non-fatal uncorrectable error: the PCI core runs AER recovery, calling
 * error_detected and then resume. Ours revokes in between; mainline does not
 * revoke on AER at all.
 */
TEST_F(virtio, aer_nonfatal_error)
{
	struct pollfd pfd;
	int i;

	VD_NEED_RIG("aer_inject (errors are not injected into real hardware)");
	pfd.fd = err_eventfd(&self->r);
	pfd.events = POLLIN;
	ASSERT_LE(0, pfd.fd) TH_LOG("error eventfd: %s", strerror(errno));
	VD_ASSERT_OK(aer_inject(self->r.dev.bdf, PCI_ERR_UNC_COMP_TIME));
	/* error_detected has run once vfio signals the error eventfd */
	ASSERT_EQ(1, poll(&pfd, 1, 10000)) TH_LOG("no AER report reached vfio");
	/* recovery ends with resume; give it time either way */
	for (i = 0; i < 100 && vd_importer_status(self->r.imp).move_notifies == 1; i++)
		usleep(20000);
	if (vd_env_is_mainline())
		usleep(500000);
	EXPECT_TRIGGER("AER non-fatal error (error_detected, then resume)", REGRANTED,
		       "not revoked", outcome(&self->r, 1));
	EXPECT_COUNTED("aer", 1, 1);
	close(pfd.fd);
}

/*
 * A fatal error whose recovery succeeds (this port reports link active):
 * resume runs, but the link reset left memory decode off in the hardware,
 * whatever vfio's virtual config says. The BAR stays revoked until the user
 * writes the command register, which makes vfio restore the BARs.
 */
TEST_F(virtio, aer_fatal_error_link_reset)
{
	VD_NEED_RIG("aer_inject (errors are not injected into real hardware)");
	ASSERT_EQ(0, aer_fatal_and_wait(&self->r, self->r.dev.bdf))
		TH_LOG("fatal error: %s", strerror(errno));
	ASSERT_EQ(0, hw_command(self->r.dev.bdf)) TH_LOG("the link reset should clear it");
	EXPECT_TRIGGER("AER fatal error, link reset, resume (memory decode off in the device)",
		       "revoked, not re-granted", "not revoked", outcome(&self->r, 1));
	EXPECT_COUNTED("aer", 1, 0);
	ASSERT_EQ(0, vd_set_memory_enable(&self->r.dev, 1));
	ASSERT_TRUE(hw_command(self->r.dev.bdf) & PCI_COMMAND_MEMORY);
	EXPECT_TRIGGER("AER fatal error, then a command write with memory decode on",
		       "re-granted", "never revoked", regrant_outcome_after(&self->r));
}

/* The second virtio-rng: its port's link never comes back from a reset. */
FIXTURE(aer_fail) {
	struct rig r;
};

FIXTURE_SETUP(aer_fail)
{
	const char *bdf = getenv("VD_AER_BDF");
	int ret;

	self->r.imp = -1;
	VD_NEED_RIG("virtio-rng behind a root port whose link reset fails");
	VD_NEED_IMPORTER();
	ASSERT_NE(NULL, bdf) TH_LOG("the rig binds a second virtio-rng and sets VD_AER_BDF");
	ret = rig_setup(_metadata, &self->r, bdf, VIRTIO_MODERN_BAR, 0);
	ASSERT_EQ(0, ret) TH_LOG("setup: %s", vd_strerr(ret));
}

FIXTURE_TEARDOWN(aer_fail)
{
	rig_teardown(&self->r);
}

/*
 * Recovery fails: resume never runs. The device itself still answers, so
 * once the user has restored it the BAR is back: an AER hold does not
 * outlive its cause for the rest of the session.
 */
TEST_F(aer_fail, aer_fatal_error_recovery_fails)
{
	ASSERT_EQ(0, aer_fatal_and_wait(&self->r, self->r.dev.bdf))
		TH_LOG("fatal error: %s", strerror(errno));
	EXPECT_TRIGGER("AER fatal error, recovery fails (no resume)",
		       "revoked, not re-granted", "not revoked", outcome(&self->r, 1));
	ASSERT_EQ(0, vd_set_memory_enable(&self->r.dev, 1));
	EXPECT_TRIGGER("AER recovery failed, then a command write with memory decode on",
		       "re-granted", "never revoked", regrant_outcome_after(&self->r));
}

/*
 * An error while nobody has the device open: the next user's exports are
 * born usable, not revoked by what happened before its time.
 *
 * The device is kept runtime-active meanwhile. Left to suspend, AER recovery
 * resumes it from inside pci_walk_bus() (pci_bus_sem held), and
 * vfio_pci_core's runtime resume takes memory_lock, which a VFIO bus reset
 * holds while it takes pci_bus_sem: lockdep reports that cycle on the debug
 * kernel with vfio-pci as with ours (docs/revoke-triggers.md, "Known
 * upstream problems"). It is not what this test is about.
 */
TEST_F(aer_fail, aer_error_while_closed)
{
	const char *bdf = getenv("VD_AER_BDF");
	char control[128];
	struct vd_dev dev;
	int fd, segs;

	snprintf(control, sizeof(control), "/sys/bus/pci/devices/%s/power/control", bdf);
	ASSERT_EQ(0, vd_write_file(control, "on"));
	vd_close(&self->r.dev);
	VD_ASSERT_OK(aer_inject(bdf, PCI_ERR_UNC_MALF_TLP));
	wait_for_recovery(bdf);
	ASSERT_EQ(0, vd_write_file(control, "auto"));
	ASSERT_EQ(0, vd_open_group(&dev, bdf));
	ASSERT_EQ(0, vd_set_memory_enable(&dev, 1));
	fd = VD_ASSERT_OK(vd_export(dev.fd, VIRTIO_MODERN_BAR, O_CLOEXEC, 0, &page0, 1, 0));
	segs = vd_importer_roundtrip(fd);
	vd_trigger_row("AER error while the device is closed: the next open's exports",
		       segs == 1 ? "map" : "born revoked");
	ASSERT_EQ(1, segs) TH_LOG("map after reopen: %s", strerror(-segs));
	close(fd);
	vd_close(&dev);
}

TEST_HARNESS_MAIN
