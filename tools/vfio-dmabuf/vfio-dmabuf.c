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
#include <linux/vfio.h>
#include <linux/vfio_dmabuf.h>

#include "vfio-dmabuf.h"

#define PCI_DEVS	"/sys/bus/pci/devices"
#define DEBUGFS_DIR	"/sys/kernel/debug/vfio-pci-dmabuf"
#define STATE_DIR	"/run/vfio-dmabuf"	/* original drivers, per BDF */
#define OUR_DRIVER	"vfio-pci-dmabuf"
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
"      otherwise holds the dma-buf until stdin is closed or a signal comes.\n"
"      Closing the device revokes the dma-buf for good, so this command\n"
"      keeps it open as long as the dma-buf is meant to work.\n"
"  list [BDF]\n"
"      Every export of devices bound to vfio-pci-dmabuf: BAR, ranges, size,\n"
"      revoked or not, attachments and the importers' devices and drivers,\n"
"      and revoke/re-grant counters per trigger. Needs debugfs.\n"
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

static bool valid_bdf(const char *bdf)
{
	unsigned int d, b, s, f;
	char end;

	return sscanf(bdf, "%4x:%2x:%2x.%1x%c", &d, &b, &s, &f, &end) == 4 &&
	       strlen(bdf) == 12;
}

static const char *dev_path(const char *bdf, const char *file)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), PCI_DEVS "/%s/%s", bdf, file);
	return path;
}

static void check_device(const char *bdf)
{
	if (!valid_bdf(bdf))
		bad_usage("'%s' is not a PCI address (domain:bus:dev.fn)", bdf);
	if (access(dev_path(bdf, ""), F_OK))
		die("no PCI device %s", bdf);
}

/* The driver @bdf is bound to, "" if none. */
static const char *bound_driver(const char *bdf)
{
	static char name[NAME_MAX + 1];
	char link[PATH_MAX];
	ssize_t n;

	n = readlink(dev_path(bdf, "driver"), link, sizeof(link) - 1);
	if (n < 0)
		return "";
	link[n] = 0;
	snprintf(name, sizeof(name), "%s", strrchr(link, '/') + 1);
	return name;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -1;
	if (write(fd, val, strlen(val)) < 0)
		ret = -1;
	close(fd);
	return ret;
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

	p = popen("modprobe " OUR_DRIVER " 2>&1", "r");
	if (!p)
		die("cannot run modprobe: %s", strerror(errno));
	while (n < sizeof(out) - 1 && fgets(out + n, sizeof(out) - n, p))
		n = strlen(out);
	st = pclose(p);
	if (st == 0 && !access("/sys/bus/pci/drivers/" OUR_DRIVER, F_OK))
		return;
	out[strcspn(out, "\n")] = '\0';
	uname(&u);
	if (strstr(out, "Key was rejected") || strstr(out, "Required key not available"))
		die("the kernel refused to load %s: %s\n"
		    "Secure Boot is on and the module is signed with DKMS's own key, which "
		    "this machine does not trust yet. Enroll it once: mokutil --import "
		    "/var/lib/dkms/mok.pub (choose a password), reboot, and pick \"Enroll "
		    "MOK\" in the blue MOK manager; then modprobe %s.",
		    OUR_DRIVER, out, OUR_DRIVER);
	if (strstr(out, "not found"))
		die("%s is not installed for kernel %s: install the vfio-pci-dmabuf-dkms "
		    "package (or make dkms-install) with linux-headers-%s. On a kernel with "
		    "native dma-buf export (6.19+) use --driver vfio-pci instead",
		    OUR_DRIVER, u.release, u.release);
	die("modprobe %s failed: %s", OUR_DRIVER, *out ? out : "no message");
}

static int cmd_bind(int argc, char **argv)
{
	const char *bdf, *drv = OUR_DRIVER;
	char path[PATH_MAX], cur[NAME_MAX + 1];

	if (argc == 4 && !strcmp(argv[2], "--driver"))
		drv = argv[3];
	else if (argc != 2)
		bad_usage("bind takes BDF [--driver NAME]");
	bdf = argv[1];
	check_device(bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s", drv);
	if (access(path, F_OK)) {
		if (strcmp(drv, OUR_DRIVER))
			die("driver %s is not loaded", drv);
		load_our_driver();
	}
	snprintf(cur, sizeof(cur), "%s", bound_driver(bdf));
	if (!strcmp(cur, drv)) {
		printf("%s is already bound to %s\n", bdf, drv);
		return 0;
	}
	if (write_file(dev_path(bdf, "driver_override"), drv))
		die("cannot set %s: %s", dev_path(bdf, "driver_override"), strerror(errno));
	if (*cur) {
		save_driver(bdf, cur);
		if (write_file(dev_path(bdf, "driver/unbind"), bdf))
			die("cannot unbind %s from %s: %s", bdf, cur, strerror(errno));
	}
	/* drivers_probe reports failure when no driver takes the device */
	write_file("/sys/bus/pci/drivers_probe", bdf);
	if (strcmp(bound_driver(bdf), drv))
		die("%s did not bind to %s (see the kernel log: dmesg | tail)", bdf, drv);
	printf("%s bound to %s%s%s%s\n", bdf, drv, *cur ? " (was " : "", cur, *cur ? ")" : "");
	return 0;
}

static int cmd_unbind(int argc, char **argv)
{
	char path[PATH_MAX], orig[NAME_MAX + 1] = "";
	const char *bdf, *cur;
	FILE *f;

	if (argc != 2)
		bad_usage("unbind takes BDF");
	bdf = argv[1];
	check_device(bdf);
	cur = bound_driver(bdf);
	if (*cur && write_file(dev_path(bdf, "driver/unbind"), bdf))
		die("cannot unbind %s from %s: %s", bdf, cur, strerror(errno));
	/* an empty override: matching by ID table again */
	if (write_file(dev_path(bdf, "driver_override"), "\n"))
		die("cannot clear %s: %s", dev_path(bdf, "driver_override"), strerror(errno));
	snprintf(path, sizeof(path), STATE_DIR "/%s", bdf);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(orig, sizeof(orig), f))
			orig[0] = 0;
		orig[strcspn(orig, "\n")] = 0;
		fclose(f);
		unlink(path);
	}
	if (*orig) {
		snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/bind", orig);
		if (write_file(path, bdf))
			fprintf(stderr, "%s: warning: cannot give %s back to %s: %s\n",
				prog, bdf, orig, strerror(errno));
	} else {
		write_file("/sys/bus/pci/drivers_probe", bdf);
	}
	cur = bound_driver(bdf);
	printf("%s unbound%s%s\n", bdf, *cur ? ", now bound to " : "", cur);
	return 0;
}

/* ---- VFIO ---- */

/* Open @bdf's VFIO device through its group, in a type1 container. */
static int open_vfio(const char *bdf, struct vfio_dev *d)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	char link[PATH_MAX], path[64];
	const char *drv;
	ssize_t n;

	d->container = d->group = d->fd = -1;
	drv = bound_driver(bdf);
	if (!*drv)
		die("%s is not bound to a driver: run 'vfio-dmabuf bind %s'", bdf, bdf);
	n = readlink(dev_path(bdf, "iommu_group"), link, sizeof(link) - 1);
	if (n < 0)
		die("%s has no IOMMU group (is the IOMMU on? intel_iommu=on / amd_iommu=on)",
		    bdf);
	link[n] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/%s", strrchr(link, '/') + 1);
	d->group = open(path, O_RDWR | O_CLOEXEC);
	if (d->group < 0)
		die("cannot open %s: %s%s", path, strerror(errno),
		    errno == EBUSY ? " (the device is open elsewhere, e.g. by a VMM)" :
		    errno == ENOENT ? " (the device is not bound to a VFIO driver)" : "");
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &gs))
		die("VFIO_GROUP_GET_STATUS: %s", strerror(errno));
	if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE))
		die("IOMMU group %s is not viable: bind every device in it to a VFIO "
		    "driver (ls %s)", strrchr(link, '/') + 1, dev_path(bdf, "iommu_group/devices"));
	d->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container < 0)
		die("cannot open /dev/vfio/vfio: %s", strerror(errno));
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container))
		die("VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
	if (ioctl(d->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		die("VFIO_SET_IOMMU: %s (modprobe vfio_iommu_type1)", strerror(errno));
	d->fd = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (d->fd < 0)
		die("VFIO_GROUP_GET_DEVICE_FD %s: %s", bdf, strerror(errno));
	return 0;
}

/* Turn memory decode on, as a VMM does before its guest uses the BARs. */
static void enable_memory(struct vfio_dev *d)
{
	struct vfio_region_info ri = {
		.argsz = sizeof(ri), .index = VFIO_PCI_CONFIG_REGION_INDEX,
	};
	uint16_t cmd;

	if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		die("VFIO_DEVICE_GET_REGION_INFO (config): %s", strerror(errno));
	if (pread(d->fd, &cmd, 2, ri.offset + 4) != 2)
		die("reading the command register: %s", strerror(errno));
	cmd |= 2;	/* PCI_COMMAND_MEMORY */
	if (pwrite(d->fd, &cmd, 2, ri.offset + 4) != 2)
		die("enabling memory decode: %s", strerror(errno));
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

static const char *errno_name(int e)
{
	switch (e) {
	case EINVAL: return "EINVAL";
	case ENOTTY: return "ENOTTY";
	case ENODEV: return "ENODEV";
	case ENOMEM: return "ENOMEM";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case EFAULT: return "EFAULT";
	case E2BIG: return "E2BIG";
	case EOVERFLOW: return "EOVERFLOW";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case EBUSY: return "EBUSY";
	case ENOENT: return "ENOENT";
	default: return "errno";
	}
}

static void explain_export(int e, const char *bdf, const struct export_args *a)
{
	const char *why = "";

	switch (e) {
	case ENOTTY:
		why = "the driver has no dma-buf export: bind the device to vfio-pci-dmabuf, "
		      "or use a kernel with native support (6.19+)";
		break;
	case EINVAL:
		why = "not a memory BAR, or a BAR smaller than a page, or a range that is "
		      "empty, not page aligned or past the BAR's end";
		break;
	case ENODEV:
		why = "no such BAR, or the BAR is empty";
		break;
	case EOVERFLOW:
		why = "a range's offset + length overflows";
		break;
	}
	die("exporting BAR %u of %s (%u range(s)) failed: %s (%s)%s%s", a->bar, bdf,
	    a->nr_ranges, strerror(e), errno_name(e), *why ? ": " : "", why);
}

/* Export @a's ranges of @d as a dma-buf; its fd, or die. */
int export_dmabuf(const char *bdf, struct vfio_dev *d, const struct export_args *a)
{
	size_t sz = sizeof(struct vfio_device_feature) + sizeof(struct vfio_device_feature_dma_buf) +
		    a->nr_ranges * sizeof(struct vfio_region_dma_range);
	struct vfio_device_feature *f = calloc(1, sz);
	struct vfio_device_feature_dma_buf *db;
	int fd;

	if (!f)
		die("out of memory");
	f->argsz = sz;
	f->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
	db = (void *)f->data;
	db->region_index = a->bar;
	db->open_flags = O_RDWR;	/* inherited by --exec: no O_CLOEXEC */
	db->nr_ranges = a->nr_ranges;
	memcpy(db->dma_ranges, a->ranges, a->nr_ranges * sizeof(a->ranges[0]));
	fd = ioctl(d->fd, VFIO_DEVICE_FEATURE, f);
	free(f);
	if (fd < 0)
		explain_export(errno, bdf, a);
	return fd;
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

void open_and_export(struct export_args *a, struct vfio_dev *d, int *fd)
{
	open_vfio(a->bdf, d);
	if (a->enable)
		enable_memory(d);
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
	struct vfio_dev d;
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
	char path[PATH_MAX], line[512];
	FILE *f;

	snprintf(path, sizeof(path), DEBUGFS_DIR "/%s", bdf);
	f = fopen(path, "re");
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
	if (access("/sys/kernel/debug/", R_OK) || access(DEBUGFS_DIR, F_OK)) {
		if (access("/sys/bus/pci/drivers/" OUR_DRIVER, F_OK))
			die("%s is not loaded", OUR_DRIVER);
		die("cannot read " DEBUGFS_DIR ": mount debugfs (mount -t debugfs none "
		    "/sys/kernel/debug) and run as root");
	}
	if (argc == 2) {
		check_device(argv[1]);
		if (list_one(argv[1]))
			die("%s is not bound to %s (bound to '%s')", argv[1], OUR_DRIVER,
			    bound_driver(argv[1]));
		return 0;
	}
	dir = opendir(DEBUGFS_DIR);
	if (!dir)
		die("cannot read " DEBUGFS_DIR ": %s", strerror(errno));
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.' && !list_one(de->d_name))
			n++;
	closedir(dir);
	if (!n)
		printf("no device is bound to %s\n", OUR_DRIVER);
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
