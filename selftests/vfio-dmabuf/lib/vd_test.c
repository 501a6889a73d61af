// SPDX-License-Identifier: GPL-2.0-only
/* The selftests' own helpers on top of libvfio-dmabuf: see vd_test.h. */
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "vd_test.h"

const char *vd_strerr(long ret)
{
	static __thread char buf[96];
	const char *name;

	if (ret >= 0)
		return "ok";
	name = strerrorname_np(-ret);
	snprintf(buf, sizeof(buf), "%s (%s)", name ? name : "?", strerror(-ret));
	return buf;
}

static void *unbind_thread(void *arg)
{
	struct vd_unbinder *u = arg;

	u->ret = vd_unbind(u->bdf);
	atomic_store(&u->done, 1);
	return NULL;
}

int vd_unbind_start(struct vd_unbinder *u, const char *bdf)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->bdf, sizeof(u->bdf), "%s", bdf);
	return -pthread_create(&u->thread, NULL, unbind_thread, u);
}

int vd_unbind_wait(struct vd_unbinder *u, int ms)
{
	while (!atomic_load(&u->done) && ms-- > 0)
		usleep(1000);
	if (!atomic_load(&u->done))
		return 0;
	pthread_join(u->thread, NULL);
	return 1;
}

void vd_pattern(void *buf, size_t len, uint32_t seed)
{
	unsigned char *p = buf;
	uint32_t x = seed;
	size_t i;

	if (!seed) {	/* VD_ZEROES */
		memset(buf, 0, len);
		return;
	}

	/* xorshift32, one byte per step; mirrored by the host's checker */
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

int vd_host_expect(const char *what, uint64_t offset, uint64_t len, uint32_t seed)
{
	const char *out = getenv("VD_OUT");
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/host-verify.txt", out && *out ? out : ".");
	f = fopen(path, "a");
	if (!f)
		return -errno;
	fprintf(f, "%s 0x%llx 0x%llx 0x%x\n", what, (unsigned long long)offset,
		(unsigned long long)len, seed);
	return fclose(f) ? -errno : 0;
}

static void append_row(const char *file, const char *key, const char *val)
{
	const char *out = getenv("VD_OUT");
	char path[PATH_MAX];
	int err = errno;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out && *out ? out : ".", file);
	f = fopen(path, "a");
	if (f) {
		fprintf(f, "%s\t%s\n", key, val);
		fclose(f);
	}
	errno = err;
}

void vd_errno_row(const char *input, int ret)
{
	const char *name = ret >= 0 ? "fd" : strerrorname_np(-ret);

	append_row("errno-table.txt", input, name ?: "?");
}

void vd_op_row(const char *input, int ret)
{
	const char *name = ret >= 0 ? "ok" : strerrorname_np(-ret);

	append_row("errno-table.txt", input, name ?: "?");
}

#define KMEMLEAK "/sys/kernel/debug/kmemleak"

int vd_kmemleak_clear(void)
{
	return vd_write_file(KMEMLEAK, "clear");
}

int vd_kmemleak_count(const char *match)
{
	char line[512];
	int n = 0, hit = 0, i, ret;
	FILE *f;

	/* kmemleak reports an object only once it is 5 s old */
	for (i = 0; i < 2; i++) {
		sleep(6);
		ret = vd_write_file(KMEMLEAK, "scan");
		if (ret)
			return ret;
	}
	f = fopen(KMEMLEAK, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "unreferenced object", 19)) {
			n += hit;
			hit = 0;
		} else if (strstr(line, match)) {
			hit = 1;
		}
	}
	fclose(f);
	return n + hit;
}

int vd_kconfig(const char *sym)
{
	const char *path = getenv("VD_KCONFIG");
	char buf[PATH_MAX], line[512];
	struct utsname u;
	size_t n = strlen(sym);
	int ret = 0;
	FILE *f;

	if (!path || !*path) {
		if (uname(&u))
			return -errno;
		snprintf(buf, sizeof(buf), "/boot/config-%s", u.release);
		path = buf;
	}
	f = fopen(path, "re");
	if (!f)
		return -ENOENT;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "CONFIG_", 7) && !strncmp(line + 7, sym, n) &&
		    (!strncmp(line + 7 + n, "=y", 2) || !strncmp(line + 7 + n, "=m", 2)))
			ret = 1;
	fclose(f);
	return ret;
}

void vd_trigger_row(const char *trigger, const char *outcome)
{
	append_row("trigger-table.txt", trigger, outcome);
}

int vd_stall_init(struct vd_stall *s, size_t pages)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	size_t psz = getpagesize();
	int ret;

	memset(s, 0, sizeof(*s));
	s->uffd = -1;
	s->pages = pages;
	s->map = mmap(NULL, pages * psz, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->map == MAP_FAILED)
		return -errno;
	s->page = s->map + (pages - 1) * psz;
	memset(s->map, 0, (pages - 1) * psz);	/* the others: present */
	/* root: faults from the kernel are handled too (no USER_MODE_ONLY) */
	s->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (s->uffd < 0)
		goto err;
	if (ioctl(s->uffd, UFFDIO_API, &api))
		goto err;
	reg.range.start = (uintptr_t)s->page;
	reg.range.len = psz;
	if (ioctl(s->uffd, UFFDIO_REGISTER, &reg))
		goto err;
	return 0;
err:
	ret = -errno;
	vd_stall_fini(s);
	return ret;
}

int vd_stall_wait(struct vd_stall *s, int ms)
{
	struct pollfd pfd = { .fd = s->uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, ms) != 1)
		return 0;
	if (read(s->uffd, &msg, sizeof(msg)) != sizeof(msg))
		return 0;
	return msg.event == UFFD_EVENT_PAGEFAULT;
}

int vd_stall_release(struct vd_stall *s, const void *content)
{
	size_t psz = getpagesize();
	struct uffdio_copy copy = {
		.dst = (uintptr_t)s->page, .len = psz,
	};
	void *zero = NULL;
	int ret = 0;

	if (!content) {
		zero = calloc(1, psz);
		if (!zero)
			return -ENOMEM;
		content = zero;
	}
	copy.src = (uintptr_t)content;
	if (ioctl(s->uffd, UFFDIO_COPY, &copy))
		ret = -errno;
	free(zero);
	return ret;
}

void vd_stall_fini(struct vd_stall *s)
{
	if (s->uffd >= 0)
		close(s->uffd);
	if (s->map && s->map != MAP_FAILED)
		munmap(s->map, s->pages * getpagesize());
	memset(s, 0, sizeof(*s));
	s->uffd = -1;
}

/* Where a faulting touch on this thread jumps back to, while one is armed. */
static __thread sigjmp_buf *touch_jmp;

static void touch_signal(int sig)
{
	if (touch_jmp)
		siglongjmp(*touch_jmp, sig);
	/* not ours: die of it, as without the handler */
	signal(sig, SIG_DFL);
	raise(sig);
}

static void touch_handlers_init(void)
{
	struct sigaction sa = { .sa_handler = touch_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

static void touch_handlers(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, touch_handlers_init);
}

/* noinline, and volatile in between: nothing of the touch moves past setjmp */
static __attribute__((noinline)) int touch(volatile uint64_t *p, uint64_t *val, int write)
{
	sigjmp_buf jb;
	int sig;

	touch_handlers();
	sig = sigsetjmp(jb, 1);
	if (sig) {
		touch_jmp = NULL;
		return sig;
	}
	touch_jmp = &jb;
	if (write)
		*p = *val;
	else
		*val = *p;
	touch_jmp = NULL;
	return 0;
}

int vd_try_write64(volatile uint64_t *p, uint64_t val)
{
	return touch(p, &val, 1);
}

int vd_try_read64(volatile uint64_t *p, uint64_t *val)
{
	return touch(p, val, 0);
}
