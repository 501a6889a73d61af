// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vfio-dmabuf command line tool, driven as an operator would: bind and
 * unbind, export with --exec (a worker that maps the dma-buf, ours only),
 * list (debugfs, ours only), rdma-reg on rxe.
 * The tool sits beside this program.
 */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vd_test.h"

#define OUT_LEN		8192

static char tool[PATH_MAX], self_exe[PATH_MAX];

/* The BAR2 range the mmap worker writes; no other test writes there. */
#define CLI_MMAP_OFF	0xa88000
#define CLI_MMAP_LEN	0x2000
#define CLI_MMAP_SEED	0x636c6901

/*
 * A worker as the README shows it: it holds the dma-buf and nothing else
 * of the device (stdin, stdout, stderr and the dma-buf), maps it and
 * writes through the mapping; the host finds the bytes.
 */
static int map_and_write(int fd)
{
	unsigned char buf[CLI_MMAP_LEN];
	unsigned char *p;

	if (vd_open_fds() != 4) {
		fprintf(stderr, "map_and_write: %d fds open, want stdio and the dma-buf\n",
			vd_open_fds());
		return -EEXIST;
	}
	p = mmap(NULL, CLI_MMAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	vd_pattern(buf, sizeof(buf), CLI_MMAP_SEED);
	memcpy(p, buf, sizeof(buf));
	return vd_host_expect("cli_exec_worker_mmap", CLI_MMAP_OFF, CLI_MMAP_LEN, CLI_MMAP_SEED) ?: 1;
}

/* Attach vd_test_importer to the dma-buf and map it. */
static int attach_and_map(int fd)
{
	int imp, ret;

	imp = ret = vd_importer_open();
	if (imp >= 0)
		ret = vd_importer_attach(imp, fd, 0);
	if (!ret)
		ret = vd_importer_map(imp);
	return ret;
}

/*
 * Run by the tool's --exec: attach vd_test_importer to the inherited
 * dma-buf and map it (or, with VD_CLI_MMAP, map it to the CPU and write
 * through it), then show `vfio-dmabuf list BDF` while it is mapped.
 */
__attribute__((constructor)) static void exec_worker(void)
{
	const char *bdf = getenv("VD_CLI_LIST"), *fd = getenv("VFIO_DMABUF_FD");
	char cmd[PATH_MAX + 64];
	int ret;

	if (!bdf || !fd)
		return;
	ret = getenv("VD_CLI_MMAP") ? map_and_write(atoi(fd)) : attach_and_map(atoi(fd));
	if (ret < 1) {
		fprintf(stderr, "exec_worker: %s\n", vd_strerr(ret));
		_exit(3);
	}
	snprintf(cmd, sizeof(cmd), "%s list %s", getenv("VD_CLI_TOOL"), bdf);
	_exit(WEXITSTATUS(system(cmd)));
}

/* Run the tool with @fmt's arguments; its exit status, its output in @out. */
static int run(char *out, const char *fmt, ...)
{
	char args[1024], cmd[PATH_MAX + 1100];
	size_t n = 0;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s %s 2>&1 </dev/null", tool, args);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(out, 1, OUT_LEN - 1, p);
	out[n] = 0;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define RUN_OK(out, ...)						\
	do {								\
		int _rc = run(out, __VA_ARGS__);			\
		ASSERT_EQ(0, _rc) TH_LOG("%s", out);			\
	} while (0)

FIXTURE(cli) {
	char bdf[32];
	char out[OUT_LEN];
};

FIXTURE_SETUP(cli)
{
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	char dir[PATH_MAX];

	ASSERT_LT(0, n);
	self_exe[n] = 0;
	snprintf(dir, sizeof(dir), "%s", self_exe);
	snprintf(tool, sizeof(tool), "%s/vfio-dmabuf", dirname(dir));
	ASSERT_EQ(0, access(tool, X_OK)) TH_LOG("%s: %s", tool, strerror(errno));
	setenv("VD_CLI_TOOL", tool, 1);
	ASSERT_EQ(0, vd_env_bdf(self->bdf, sizeof(self->bdf)));
}

FIXTURE_TEARDOWN(cli)
{
}

TEST_F(cli, help_exits_zero)
{
	RUN_OK(self->out, "--help");
	ASSERT_NE(NULL, strstr(self->out, "usage: vfio-dmabuf COMMAND"));
	ASSERT_NE(NULL, strstr(self->out, "rdma-reg BDF"));
}

TEST_F(cli, bad_usage_exits_two)
{
	ASSERT_EQ(2, run(self->out, "export %s --range 0:0x1000", self->bdf));
	ASSERT_NE(NULL, strstr(self->out, "--bar N is required")) TH_LOG("%s", self->out);
	ASSERT_EQ(2, run(self->out, "export %s --bar 2 --range 0x1000", self->bdf));
	ASSERT_NE(NULL, strstr(self->out, "OFF:LEN")) TH_LOG("%s", self->out);
	ASSERT_EQ(2, run(self->out, "frobnicate"));
	ASSERT_EQ(2, run(self->out, "export not-a-bdf --bar 2 --range 0:0x1000"));
}

/* --exec hands the dma-buf to a command, which sees it as one. */
TEST_F(cli, export_hands_the_dmabuf_to_exec)
{
	RUN_OK(self->out, "export %s --bar 2 --range 0x100000:0x2000 --exec "
	       "sh -c 'grep -c ^exp_name: /proc/self/fdinfo/$VFIO_DMABUF_FD'", self->bdf);
	ASSERT_NE(NULL, strstr(self->out, "size 0x2000 bar 2 ranges 1\n")) TH_LOG("%s", self->out);
	ASSERT_NE(NULL, strstr(self->out, "\n1\n")) TH_LOG("%s", self->out);
}

TEST_F(cli, export_exit_status_is_the_commands)
{
	ASSERT_EQ(7, run(self->out, "export %s --bar 2 --range 0:0x1000 --exec sh -c 'exit 7'",
			 self->bdf));
}

TEST_F(cli, export_errors_name_the_cause)
{
	/* a range past the BAR's end */
	ASSERT_EQ(1, run(self->out, "export %s --bar 2 --range 0:0x100000000", self->bdf));
	ASSERT_NE(NULL, strstr(self->out, "(EINVAL)")) TH_LOG("%s", self->out);
	/* the host bridge has no VFIO driver */
	ASSERT_EQ(1, run(self->out, "export 0000:00:00.0 --bar 0 --range 0:0x1000"));
	ASSERT_NE(NULL, strstr(self->out, "not bound")) TH_LOG("%s", self->out);
	ASSERT_EQ(1, run(self->out, "export 0000:0f:1f.7 --bar 0 --range 0:0x1000"));
	ASSERT_NE(NULL, strstr(self->out, "no PCI device")) TH_LOG("%s", self->out);
}

/* list, while vd_test_importer maps the export: ranges, importer, driver. */
TEST_F(cli, list_shows_the_export_and_its_importer)
{
	if (vd_env_is_mainline())
		SKIP(return, "list reads vfio-pci-dmabuf's debugfs; mainline has none");
	setenv("VD_CLI_LIST", self->bdf, 1);
	RUN_OK(self->out, "export %s --bar 2 --range 0x100000:0x2000 --range 0x200000:0x1000 "
	       "--exec %s", self->bdf, self_exe);
	unsetenv("VD_CLI_LIST");
	ASSERT_NE(NULL, strstr(self->out, "exports 1\n")) TH_LOG("%s", self->out);
	ASSERT_NE(NULL, strstr(self->out, " bar 2 size 0x3000 ranges 2 revoked 0 mapped 1 "
			       "attachments 1 vmas 0 zaps 0 faults pte=0 pmd=0 pud=0\n"))
		TH_LOG("%s", self->out);
	ASSERT_NE(NULL, strstr(self->out, "  range 0x100000 0x2000\n")) TH_LOG("%s", self->out);
	ASSERT_NE(NULL, strstr(self->out, "  range 0x200000 0x1000\n")) TH_LOG("%s", self->out);
	ASSERT_NE(NULL, strstr(self->out, " driver vd_test_importer maps 1 ")) TH_LOG("%s", self->out);
}

/* A worker run by --exec maps the dma-buf it inherited; list shows it. */
TEST_F(cli, exec_worker_maps_the_dmabuf)
{
	char range[64];

	if (vd_env_is_mainline())
		SKIP(return, "mainline has no dma-buf mmap");
	snprintf(range, sizeof(range), "%#x:%#x", CLI_MMAP_OFF, CLI_MMAP_LEN);
	setenv("VD_CLI_LIST", self->bdf, 1);
	setenv("VD_CLI_MMAP", "1", 1);
	RUN_OK(self->out, "export %s --bar 2 --range %s --exec %s", self->bdf, range, self_exe);
	unsetenv("VD_CLI_MMAP");
	unsetenv("VD_CLI_LIST");
	ASSERT_NE(NULL, strstr(self->out, " bar 2 size 0x2000 ranges 1 revoked 0 mapped 0 "
			       "attachments 0 vmas 1 zaps 0 faults pte=2 pmd=0 pud=0\n"))
		TH_LOG("%s", self->out);
}

TEST_F(cli, list_after_the_export_is_gone)
{
	if (vd_env_is_mainline())
		SKIP(return, "list reads vfio-pci-dmabuf's debugfs; mainline has none");
	RUN_OK(self->out, "export %s --bar 2 --range 0:0x1000 --exec true", self->bdf);
	RUN_OK(self->out, "list %s", self->bdf);
	ASSERT_NE(NULL, strstr(self->out, "exports 0\n")) TH_LOG("%s", self->out);
	ASSERT_EQ(NULL, strstr(self->out, "dmabuf ")) TH_LOG("%s", self->out);
	ASSERT_EQ(1, run(self->out, "list 0000:00:00.0"));
	ASSERT_NE(NULL, strstr(self->out, "not bound to vfio-pci-dmabuf")) TH_LOG("%s", self->out);
}

/* rxe cannot register dma-buf memory: the tool says who and why. */
TEST_F(cli, rdma_reg_on_rxe_names_provider_and_errno)
{
	ASSERT_EQ(1, run(self->out, "rdma-reg %s --bar 2 --range 0:0x1000 --rdma-dev rxe0",
			 self->bdf));
	ASSERT_NE(NULL, strstr(self->out, "ibv_reg_dmabuf_mr on rxe0")) TH_LOG("%s", self->out);
	ASSERT_NE(NULL, strstr(self->out, "(EOPNOTSUPP)")) TH_LOG("%s", self->out);
	ASSERT_NE(NULL, strstr(self->out, "rxe")) TH_LOG("%s", self->out);
	ASSERT_EQ(1, run(self->out, "rdma-reg %s --bar 2 --range 0:0x1000 --rdma-dev nosuch0",
			 self->bdf));
	ASSERT_NE(NULL, strstr(self->out, "no RDMA device nosuch0")) TH_LOG("%s", self->out);
}

/*
 * virtio-rng starts bound to the driver under test. unbind gives it to
 * virtio-pci (no driver was remembered); bind remembers virtio-pci; unbind
 * gives it back to it; bind leaves it as it was found.
 */
TEST_F(cli, unbind_and_bind_remember_the_driver)
{
	const char *pm = getenv("VD_PM_BDF"), *drv = vd_env_driver();
	char name[64];

	ASSERT_NE(NULL, pm);
	RUN_OK(self->out, "unbind %s", pm);
	ASSERT_EQ(0, vd_bound_driver(pm, name, sizeof(name)));
	ASSERT_STREQ("virtio-pci", name) TH_LOG("%s", self->out);
	RUN_OK(self->out, "bind %s --driver %s", pm, drv);
	ASSERT_NE(NULL, strstr(self->out, "(was virtio-pci)")) TH_LOG("%s", self->out);
	ASSERT_EQ(0, vd_bound_driver(pm, name, sizeof(name)));
	ASSERT_STREQ(drv, name);
	RUN_OK(self->out, "unbind %s", pm);
	ASSERT_EQ(0, vd_bound_driver(pm, name, sizeof(name)));
	ASSERT_STREQ("virtio-pci", name) TH_LOG("%s", self->out);
	RUN_OK(self->out, "bind %s --driver %s", pm, drv);
	ASSERT_EQ(0, vd_bound_driver(pm, name, sizeof(name)));
	ASSERT_STREQ(drv, name);
}

TEST_HARNESS_MAIN
