// SPDX-License-Identifier: GPL-2.0-only
/*
 * libvfio-dmabuf: what the kernel reports: vfio-pci-dmabuf's debugfs file
 * per device, the dma-buf core's bufinfo, fdinfo, module reference counts.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vfio-dmabuf/vd.h>

FILE *vd_dbg_open(const char *bdf)
{
	char path[128];

	snprintf(path, sizeof(path), VD_DEBUGFS "/%s", bdf);
	return fopen(path, "re");
}

long vd_dbg_count(const char *bdf, const char *kind, const char *cause)
{
	size_t klen = strlen(kind), clen = strlen(cause);
	char line[512], *p, *save;
	long ret = -ENOENT;
	FILE *f;

	f = vd_dbg_open(bdf);
	if (!f)
		return -errno;
	/* "revokes config=0 reset=2 ...": one line per kind */
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, kind, klen) || line[klen] != ' ')
			continue;
		for (p = strtok_r(line + klen, " \n", &save); p;
		     p = strtok_r(NULL, " \n", &save))
			if (!strncmp(p, cause, clen) && p[clen] == '=')
				ret = strtol(p + clen + 1, NULL, 10);
		break;
	}
	fclose(f);
	return ret;
}

long vd_dbg_exports(const char *bdf)
{
	char line[512];
	long ret = -ENOENT;
	FILE *f;

	f = vd_dbg_open(bdf);
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "exports %ld", &ret) == 1)
			break;
	fclose(f);
	return ret;
}

long vd_dbg_dmabuf(const char *bdf, unsigned long ino, const char *key)
{
	size_t klen = strlen(key);
	char line[512], *p, *save;
	long ret = -ENOENT;
	unsigned long got;
	FILE *f;

	f = vd_dbg_open(bdf);
	if (!f)
		return -errno;
	/* "dmabuf INO bar 2 ... vmas 1 zaps 0 faults pte=3 pmd=0 pud=0" */
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "dmabuf %lu ", &got) != 1 || got != ino)
			continue;
		for (p = strtok_r(line, " \n", &save); p; p = strtok_r(NULL, " \n", &save)) {
			if (!strcmp(p, key)) {
				p = strtok_r(NULL, " \n", &save);
				if (p)
					ret = strtol(p, NULL, 0);
				break;
			}
			if (!strncmp(p, key, klen) && p[klen] == '=') {
				ret = strtol(p + klen + 1, NULL, 0);
				break;
			}
		}
		break;
	}
	fclose(f);
	return ret;
}

int vd_dmabuf_count(const char *exp_name)
{
	char line[512], *f[5], *save, *p;
	size_t i;
	int n = 0;
	FILE *fp;

	fp = fopen("/sys/kernel/debug/dma_buf/bufinfo", "re");
	if (!fp)
		return -errno;
	/* size, flags, mode, count, exp_name, ino, name: tab-separated */
	while (fgets(line, sizeof(line), fp)) {
		if (line[0] == '\t')
			continue;
		p = line;
		for (i = 0; i < 5; i++, p = NULL) {
			f[i] = strtok_r(p, "\t\n", &save);
			if (!f[i])
				break;
		}
		if (i == 5 && !strcmp(f[4], exp_name))
			n++;
	}
	fclose(fp);
	return n;
}

int vd_fdinfo(int fd, const char *key, char *val, size_t len)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *v = line + klen;

		if (strncmp(line, key, klen) || *v != ':')
			continue;
		v++;
		v += strspn(v, " \t");
		v[strcspn(v, "\n")] = '\0';
		snprintf(val, len, "%s", v);
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

int vd_module_refcnt(const char *name)
{
	char path[PATH_MAX], buf[32];
	int ret;

	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", name);
	ret = vd_read_file(path, buf, sizeof(buf));
	return ret ? ret : atoi(buf);
}

int vd_open_fds(void)
{
	struct dirent *de;
	DIR *dir;
	int n = 0;

	dir = opendir("/proc/self/fd");
	if (!dir)
		return -errno;
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1;	/* the directory's own fd */
}
