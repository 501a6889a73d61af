// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-dmabuf: bind a PCI device to vfio-pci-dmabuf, export ranges of its
 * BARs as dma-bufs, list what is exported and to whom, and register an
 * export with an RDMA device. See usage() or `vfio-dmabuf --help`.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vfio-dmabuf.h"

#define PCI_DEVS	"/sys/bus/pci/devices"
#define STATE_DIR	"/run/vfio-dmabuf"	/* original drivers, per BDF */
#define MAX_RANGES	((int)(sizeof(((struct export_args *)0)->ranges) / \
			      sizeof(struct vfio_region_dma_range)))

const char *prog = "vfio-dmabuf";

static void usage(FILE *f)
{
	fprintf(f,
"usage: vfio-dmabuf COMMAND [ARGS]\n"
"\n"
"Export the MMIO BARs of a VFIO-bound PCI device as dma-bufs, for peer-to-peer\n"
"DMA by an RDMA NIC, a DMA engine or an IOMMU.\n"
"\n"
"Commands:\n"
"  bind BDF [--driver NAME]\n"
"      Bind the device to vfio-pci-dmabuf (or NAME, e.g. vfio-pci on kernels\n"
"      with native support, 6.19+) through driver_override. The driver it had\n"
"      is remembered in " STATE_DIR "/BDF for unbind.\n"
"  unbind BDF\n"
"      Unbind it, clear driver_override and give it back to the driver it had.\n"
"  export BDF --bar N --range OFF:LEN [--range OFF:LEN]... [--no-enable]\n"
"         [--exec CMD [ARG]...]\n"
"      Open the device through its VFIO group, turn on memory decode (unless\n"
"      --no-enable) and export the ranges of BAR N as one dma-buf. Prints the\n"
"      dma-buf's fd, inode and size. With --exec, runs CMD with the dma-buf\n"
"      inherited (its number in $VFIO_DMABUF_FD) and exits with its status;\n"
"      CMD holds nothing else of the device, and may mmap(2) the dma-buf to\n"
"      reach the ranges from the CPU (vfio-pci-dmabuf only: mainline vfio-pci\n"
"      has no dma-buf mmap). Otherwise holds the dma-buf until stdin is\n"
"      closed or a signal comes.\n"
"      Closing the device revokes the dma-buf for good, so this command\n"
"      keeps it open as long as the dma-buf is meant to work.\n"
"  list [BDF]\n"
"      Every export of devices bound to vfio-pci-dmabuf: BAR, ranges, size,\n"
"      revoked or not, attachments and the importers' devices and drivers,\n"
"      CPU mappings (vmas), how often a revoke zapped them and the page\n"
"      table entries their faults mapped, and revoke/re-grant counters per\n"
"      trigger. Needs debugfs.\n"
"  rdma-reg BDF --bar N --range OFF:LEN [--range ...] --rdma-dev NAME\n"
"         [--no-enable] [--hold]\n"
"      Export as above, then register the dma-buf as a memory region of\n"
"      RDMA device NAME with ibv_reg_dmabuf_mr() and print its lkey and\n"
"      rkey. With --hold, keeps it registered until stdin is closed.\n"
"\n"
"Numbers take C syntax (0x1000, 4096). BDF is domain:bus:dev.fn, e.g.\n"
"0000:01:00.0. Exit status: 0 on success, 1 on failure, 2 on bad usage.\n");
}

void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", prog);
	exit(2);
}

/* ---- sysfs ---- */

static const char *dev_path(const char *bdf, const char *file)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), PCI_DEVS "/%s/%s", bdf, file);
	return path;
}

static void check_device(const char *bdf)
{
	if (!vd_bdf_valid(bdf))
		bad_usage("'%s' is not a PCI address (domain:bus:dev.fn)", bdf);
	if (!vd_pci_exists(bdf))
		die("no PCI device %s", bdf);
}

/* The driver @bdf is bound to, "" if none. */
static const char *bound_driver(const char *bdf)
{
	static char name[NAME_MAX + 1];

	if (vd_bound_driver(bdf, name, sizeof(name)))
		name[0] = '\0';
	return name;
}

/* Write @val to @path, or die saying what could not be done. */
static void write_or_die(const char *path, const char *val, const char *what)
{
	int ret = vd_write_file(path, val);

	if (ret)
		die("cannot %s (%s): %s", what, path, strerror(-ret));
}

static void save_driver(const char *bdf, const char *drv)
{
	char path[PATH_MAX];
	int fd;

	mkdir("/run", 0755);
	mkdir(STATE_DIR, 0755);
	snprintf(path, sizeof(path), STATE_DIR "/%s", bdf);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, drv, strlen(drv)) < 0)
		fprintf(stderr, "%s: warning: cannot remember %s's driver in %s: %s\n",
			prog, bdf, path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * Load vfio-pci-dmabuf with modprobe; on failure, say why in a user's terms:
 * not built for this kernel, or refused for its signature (Secure Boot, with
 * the key DKMS signs with not enrolled).
 */
static void load_our_driver(void)
{
	struct utsname u = { .release = "?" };
	char out[1024] = "";
	size_t n = 0;
	FILE *p;
	int st;

	p = popen("modprobe " VD_DRIVER " 2>&1", "r");
	if (!p)
		die("cannot run modprobe: %s", strerror(errno));
	while (n < sizeof(out) - 1 && fgets(out + n, sizeof(out) - n, p))
		n = strlen(out);
	st = pclose(p);
	if (st == 0 && !access("/sys/bus/pci/drivers/" VD_DRIVER, F_OK))
		return;
	out[strcspn(out, "\n")] = '\0';
	uname(&u);
	if (strstr(out, "Key was rejected") || strstr(out, "Required key not available"))
		die("the kernel refused to load %s: %s\n"
		    "Secure Boot is on and the module is signed with DKMS's own key, which "
		    "this machine does not trust yet. Enroll it once: mokutil --import "
		    "/var/lib/dkms/mok.pub (choose a password), reboot, and pick \"Enroll "
		    "MOK\" in the blue MOK manager; then modprobe %s.",
		    VD_DRIVER, out, VD_DRIVER);
	if (strstr(out, "not found"))
		die("%s is not installed for kernel %s: install the vfio-pci-dmabuf-dkms "
		    "package (or make dkms-install) with linux-headers-%s. On a kernel with "
		    "native dma-buf export (6.19+) use --driver vfio-pci instead",
		    VD_DRIVER, u.release, u.release);
	die("modprobe %s failed: %s", VD_DRIVER, *out ? out : "no message");
}

static int cmd_bind(int argc, char **argv)
{
	const char *bdf, *drv = VD_DRIVER;
	char path[PATH_MAX], cur[NAME_MAX + 1];
	int ret;

	if (argc == 4 && !strcmp(argv[2], "--driver"))
		drv = argv[3];
	else if (argc != 2)
		bad_usage("bind takes BDF [--driver NAME]");
	bdf = argv[1];
	check_device(bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s", drv);
	if (access(path, F_OK)) {
		if (strcmp(drv, VD_DRIVER))
			die("driver %s is not loaded", drv);
		load_our_driver();
	}
	snprintf(cur, sizeof(cur), "%s", bound_driver(bdf));
	if (!strcmp(cur, drv)) {
		printf("%s is already bound to %s\n", bdf, drv);
		return 0;
	}
	if (*cur) {
		save_driver(bdf, cur);
		write_or_die(dev_path(bdf, "driver/unbind"), bdf, "unbind it from its driver");
	}
	ret = vd_bind(bdf, drv);
	if (ret == -ENODEV)
		die("%s did not bind to %s (see the kernel log: dmesg | tail)", bdf, drv);
	if (ret)
		die("cannot bind %s to %s through driver_override: %s", bdf, drv, strerror(-ret));
	printf("%s bound to %s%s%s%s\n", bdf, drv, *cur ? " (was " : "", cur, *cur ? ")" : "");
	return 0;
}

static int cmd_unbind(int argc, char **argv)
{
	char path[PATH_MAX], orig[NAME_MAX + 1] = "";
	const char *bdf, *cur;
	int ret;

	if (argc != 2)
		bad_usage("unbind takes BDF");
	bdf = argv[1];
	check_device(bdf);
	cur = bound_driver(bdf);
	if (*cur)
		write_or_die(dev_path(bdf, "driver/unbind"), bdf, "unbind it from its driver");
	ret = vd_unoverride(bdf);
	if (ret)
		die("cannot clear %s: %s", dev_path(bdf, "driver_override"), strerror(-ret));
	snprintf(path, sizeof(path), STATE_DIR "/%s", bdf);
	if (vd_read_file(path, orig, sizeof(orig)))
		orig[0] = '\0';	/* bound by something else: no driver to give back */
	unlink(path);
	if (*orig) {
		snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/bind", orig);
		ret = vd_write_file(path, bdf);
		if (ret)
			fprintf(stderr, "%s: warning: cannot give %s back to %s: %s\n",
				prog, bdf, orig, strerror(-ret));
	} else {
		vd_write_file("/sys/bus/pci/drivers_probe", bdf);
	}
	cur = bound_driver(bdf);
	printf("%s unbound%s%s\n", bdf, *cur ? ", now bound to " : "", cur);
	return 0;
}

/* ---- VFIO ---- */

/* Open @bdf's VFIO device through its group; on failure say why, and die. */
static void open_vfio(const char *bdf, struct vd_dev *d)
{
	int ret, group;

	if (!*bound_driver(bdf))
		die("%s is not bound to a driver: run 'vfio-dmabuf bind %s'", bdf, bdf);
	group = vd_iommu_group(bdf);
	if (group < 0)
		die("%s has no IOMMU group (is the IOMMU on? intel_iommu=on / amd_iommu=on)",
		    bdf);
	ret = vd_open_group(d, bdf);
	if (!ret)
		return;
	if (!strcmp(d->step, "group viable"))
		die("IOMMU group %d is not viable: bind every device in it to a VFIO "
		    "driver (ls %s)", group, dev_path(bdf, "iommu_group/devices"));
	die("%s: %s%s", d->step, strerror(-ret),
	    ret == -EBUSY ? " (the device is open elsewhere, e.g. by a VMM)" :
	    ret == -ENOENT ? " (the device is not bound to a VFIO driver)" :
	    !strcmp(d->step, "VFIO_SET_IOMMU") ? " (modprobe vfio_iommu_type1)" : "");
}

static uint64_t parse_num(const char *s, const char *what)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-')
		bad_usage("bad %s '%s'", what, s);
	return v;
}

/* Export @a's ranges of @d as a dma-buf; its fd, or die saying why. */
static int export_dmabuf(const char *bdf, struct vd_dev *d, const struct export_args *a)
{
	const char *why;
	int fd;

	/* inherited by --exec: no O_CLOEXEC */
	fd = vd_export(d->fd, a->bar, O_RDWR, 0, a->ranges, a->nr_ranges, 0);
	if (fd >= 0)
		return fd;
	why = vd_export_why(-fd);
	die("exporting BAR %u of %s (%u range(s)) failed: %s (%s)%s%s", a->bar, bdf,
	    a->nr_ranges, strerror(-fd), strerrorname_np(-fd) ?: "errno", *why ? ": " : "", why);
}

/*
 * Parse "BDF --bar N --range OFF:LEN... [--no-enable] [more]"; @more gets
 * the options the caller knows (returns 1 if it took one argument, 0 if
 * none, -1 if not its own).
 */
void parse_export(int argc, char **argv, struct export_args *a,
		  int (*more)(const char *opt, const char *arg, void *ctx), void *ctx)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->bar = UINT32_MAX;
	a->enable = true;
	if (argc < 2 || argv[1][0] == '-')
		bad_usage("%s takes BDF first", argv[0]);
	a->bdf = argv[1];
	for (i = 2; i < argc; i++) {
		const char *opt = argv[i], *arg = i + 1 < argc ? argv[i + 1] : NULL;
		int took;

		if (!strcmp(opt, "--no-enable")) {
			a->enable = false;
			continue;
		}
		if (!strcmp(opt, "--exec")) {
			if (!arg)
				bad_usage("--exec needs a command");
			a->exec = &argv[i + 1];
			break;
		}
		if (more) {
			took = more(opt, arg, ctx);
			if (took >= 0) {
				i += took;
				continue;
			}
		}
		if (!arg)
			bad_usage("%s needs a value", opt);
		if (!strcmp(opt, "--bar")) {
			a->bar = parse_num(arg, "BAR number");
		} else if (!strcmp(opt, "--range")) {
			char *colon = strchr(arg, ':');
			struct vfio_region_dma_range *r;

			if (!colon)
				bad_usage("--range takes OFF:LEN, not '%s'", arg);
			if (a->nr_ranges == MAX_RANGES)
				bad_usage("at most %d ranges", MAX_RANGES);
			*colon = 0;
			r = &a->ranges[a->nr_ranges++];
			r->offset = parse_num(arg, "range offset");
			r->length = parse_num(colon + 1, "range length");
			a->size += r->length;
		} else {
			bad_usage("unknown option '%s'", opt);
		}
		i++;
	}
	if (a->bar == UINT32_MAX)
		bad_usage("--bar N is required");
	if (!a->nr_ranges)
		bad_usage("at least one --range OFF:LEN is required");
	check_device(a->bdf);
}

void open_and_export(struct export_args *a, struct vd_dev *d, int *fd)
{
	int ret;

	open_vfio(a->bdf, d);
	/* memory decode on, as a VMM does before its guest uses the BARs */
	ret = a->enable ? vd_set_memory_enable(d, 1) : 0;
	if (ret)
		die("enabling memory decode: %s", strerror(-ret));
	*fd = export_dmabuf(a->bdf, d, a);
}

void print_dmabuf(int fd, const struct export_args *a)
{
	struct stat st;

	if (fstat(fd, &st))
		die("fstat: %s", strerror(errno));
	printf("dmabuf fd %d inode %lu size %#" PRIx64 " bar %u ranges %u\n", fd,
	       (unsigned long)st.st_ino, a->size, a->bar, a->nr_ranges);
	fflush(stdout);
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

/* Keep everything open until stdin reaches EOF or a signal comes. */
void hold(const char *what)
{
	struct sigaction sa = { .sa_handler = on_signal };
	char buf[256];

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	printf("holding %s; close stdin or press Ctrl-C to release\n", what);
	fflush(stdout);
	while (!stop && read(0, buf, sizeof(buf)) > 0)
		;
}

/* Run @argv with the dma-buf inherited; its exit status. */
int run_with(char **argv, int fd)
{
	char num[16];
	int status;
	pid_t pid;

	snprintf(num, sizeof(num), "%d", fd);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		setenv("VFIO_DMABUF_FD", num, 1);
		execvp(argv[0], argv);
		fprintf(stderr, "%s: cannot run %s: %s\n", prog, argv[0], strerror(errno));
		_exit(127);
	}
	/* the device stays open here while the command uses the dma-buf */
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int cmd_export(int argc, char **argv)
{
	struct export_args a;
	struct vd_dev d;
	int fd;

	parse_export(argc, argv, &a, NULL, NULL);
	open_and_export(&a, &d, &fd);
	print_dmabuf(fd, &a);
	if (a.exec)
		return run_with(a.exec, fd);
	hold("the dma-buf and the device");
	return 0;
}

/* ---- list ---- */

static int list_one(const char *bdf)
{
	char line[512];
	FILE *f;

	f = vd_dbg_open(bdf);
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		fputs(line, stdout);
	fclose(f);
	return 0;
}

static int cmd_list(int argc, char **argv)
{
	struct dirent *de;
	int n = 0;
	DIR *dir;

	if (argc > 2)
		bad_usage("list takes at most one BDF");
	if (access("/sys/kernel/debug/", R_OK) || access(VD_DEBUGFS, F_OK)) {
		if (access("/sys/bus/pci/drivers/" VD_DRIVER, F_OK))
			die("%s is not loaded", VD_DRIVER);
		die("cannot read " VD_DEBUGFS ": mount debugfs (mount -t debugfs none "
		    "/sys/kernel/debug) and run as root");
	}
	if (argc == 2) {
		check_device(argv[1]);
		if (list_one(argv[1]))
			die("%s is not bound to %s (bound to '%s')", argv[1], VD_DRIVER,
			    bound_driver(argv[1]));
		return 0;
	}
	dir = opendir(VD_DEBUGFS);
	if (!dir)
		die("cannot read " VD_DEBUGFS ": %s", strerror(errno));
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.' && !list_one(de->d_name))
			n++;
	closedir(dir);
	if (!n)
		printf("no device is bound to %s\n", VD_DRIVER);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = {
		{ "bind", cmd_bind },
		{ "unbind", cmd_unbind },
		{ "export", cmd_export },
		{ "list", cmd_list },
		{ "rdma-reg", cmd_rdma_reg },
	};
	unsigned int i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	bad_usage("unknown command '%s'", argv[1]);
	return 2;
}
