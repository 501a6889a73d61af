# SPDX-License-Identifier: GPL-2.0
# libvfio-dmabuf, included by the Makefile of every userspace program (the
# command line tool, the demo, the bench, the selftests). Set TOP and O
# first; link $(VD_LIB) and compile with $(VD_LIB_CFLAGS) for its header.
vd_lib_goal := $(.DEFAULT_GOAL)
VD_LIB_DIR := $(TOP)/tools/lib/vfio-dmabuf
VD_LIB_CFLAGS := -I$(TOP)/include -I$(TOP)/include/uapi
VD_LIB := $(O)/libvfio-dmabuf/libvfio-dmabuf.a
VD_LIB_OBJS := $(addprefix $(O)/libvfio-dmabuf/,sysfs.o device.o export.o importer.o report.o env.o fdpass.o \
	iommufd.o edu.o)

$(O)/libvfio-dmabuf/%.o: $(VD_LIB_DIR)/%.c $(TOP)/include/vfio-dmabuf/vd.h $(VD_LIB_DIR)/lib.mk
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -D_GNU_SOURCE $(VD_LIB_CFLAGS) -c -o $@ $<

$(VD_LIB): $(VD_LIB_OBJS)
	$(AR) rcs $@ $^

# not the including Makefile's default goal
.DEFAULT_GOAL := $(vd_lib_goal)
