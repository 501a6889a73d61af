# SPDX-License-Identifier: GPL-2.0
#
#   make [KDIR=...]   build vfio-pci-dmabuf.ko for a kernel (default: running)
#   make install      install it for that kernel (modules_install + depmod)
#   make dkms-install register this tree with DKMS, build and install it for
#                     every installed kernel with headers
#   make deb          Debian packages: vfio-pci-dmabuf-dkms, vfio-dmabuf-tools
#   make tools        build the vfio-dmabuf command line tool
#   make demo         boot a Debian 6.12 guest and export a BAR, end to end
#   make bench        time and size exports, maps and revokes: ours vs mainline
#   make check        every test on every guest kernel (TAP)
#   make check-host BDF=0000:03:00.0 [IMPORTER=BDF2]
#                     the device-agnostic tests on this machine's kernel,
#                     against the one device named (see the README)
#   make checkpatch   checkpatch.pl --strict on drivers/, include/ and the test modules
KDIR ?= /lib/modules/$(shell uname -r)/build
MDIR := $(CURDIR)/drivers/vfio/pci/dmabuf
VM := tools/testing/vm

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(MDIR) modules

# The version, for DKMS and the Debian packages alike, is dkms.conf's.
DKMS_VER := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
DKMS_SRC ?= /usr/src/vfio-pci-dmabuf-$(DKMS_VER)

install: modules
	$(MAKE) -C $(KDIR) M=$(MDIR) modules_install

# Stage the DKMS source tree in DKMS_SRC: the driver's sources, its uAPI
# header, this Makefile and dkms.conf; nothing a build left behind.
MREL := drivers/vfio/pci/dmabuf
dkms-src:
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)/include/uapi/linux $(DKMS_SRC)/$(MREL)/compat
	cp Makefile dkms.conf $(DKMS_SRC)/
	cp include/uapi/linux/vfio_dmabuf.h $(DKMS_SRC)/include/uapi/linux/
	cp $(MREL)/Kbuild $(filter-out %/compat_probed.h,$(wildcard $(MREL)/*.[ch])) \
		$(DKMS_SRC)/$(MREL)/
	cp $(MREL)/compat/*.c $(MREL)/compat/*.h $(MREL)/compat/probe.sh \
		$(MREL)/compat/probes.mk $(DKMS_SRC)/$(MREL)/compat/

# Register the tree with DKMS, then build and install it for every installed
# kernel whose headers are there. A kernel whose own vfio-pci exports
# dma-bufs (CONFIG_VFIO_PCI_DMABUF) is skipped: use vfio-pci there.
dkms-install: dkms-src
	dkms status -m vfio-pci-dmabuf -v $(DKMS_VER) | grep -q . || \
		dkms add vfio-pci-dmabuf/$(DKMS_VER)
	@for b in /lib/modules/*/build; do \
		k=$${b#/lib/modules/}; k=$${k%/build}; \
		[ -e "$$b/Makefile" ] || continue; \
		dkms install vfio-pci-dmabuf/$(DKMS_VER) -k $$k; rc=$$?; \
		if [ $$rc = 77 ]; then \
			echo "vfio-pci-dmabuf: skipped for $$k (said why above)"; \
		elif [ $$rc != 0 ]; then exit $$rc; fi; \
	done

dkms-remove:
	dkms remove vfio-pci-dmabuf/$(DKMS_VER) --all || true
	rm -rf $(DKMS_SRC)

# Debian packages: vfio-pci-dmabuf-dkms and vfio-dmabuf-tools, into DEB_OUT,
# built from a copy of the tree with tools/packaging/debian as debian/.
DEB_OUT ?= $(CURDIR)/build/deb
DEB_TREE := $(DEB_OUT)/vfio-pci-dmabuf-$(DKMS_VER)
deb:
	rm -rf $(DEB_OUT) && mkdir -p $(DEB_TREE)
	cp -r Makefile dkms.conf README.md drivers include tools $(DEB_TREE)/
	$(MAKE) -s -C $(DEB_TREE) clean-tree
	mv $(DEB_TREE)/tools/packaging/debian $(DEB_TREE)/debian
	printf '%s\n' "vfio-pci-dmabuf ($(DKMS_VER)) unstable; urgency=medium" "" \
		"  * Built from the vfio-dmabuf tree." "" \
		" -- vfio-dmabuf developers <vfio-dmabuf@users.noreply.invalid>  $$(date -R)" \
		>$(DEB_TREE)/debian/changelog
	cd $(DEB_TREE) && dpkg-buildpackage -b -us -uc >$(DEB_OUT)/build.log 2>&1 || \
		{ tail -40 $(DEB_OUT)/build.log; exit 1; }
	@ls $(DEB_OUT)/*.deb

# What a build leaves in the tree, for a copy that must hold sources only.
clean-tree:
	find drivers $(wildcard tools selftests) \( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.cmd' -o -name Module.symvers -o -name modules.order \
		-o -name compat_probed.h -o -name __pycache__ \) -prune -exec rm -rf {} +
	rm -rf tools/vfio-dmabuf/vfio-dmabuf tools/*/libvfio-dmabuf

tools:
	$(MAKE) -C tools/vfio-dmabuf

clean:
	$(MAKE) -C $(KDIR) M=$(MDIR) clean 2>/dev/null || \
		rm -f $(MDIR)/*.o $(MDIR)/*.ko $(MDIR)/*.mod* $(MDIR)/compat_probed.h

deps:
	@$(VM)/host/deps.sh

# KERNELS=6.1,6.12,deb13,7.x,dbg,dbg2 selects guest kernels; V=1 shows their consoles.
check: deps
	@$(VM)/check $(if $(KERNELS),-k $(KERNELS)) $(if $(filter 1,$(V)),-v)

# A real device on this machine's own kernel: nothing but BDF (and IMPORTER,
# a spare device vd_test_importer may bind) is touched.
check-host:
	@$(VM)/check-host $(BDF) $(if $(IMPORTER),--importer $(IMPORTER))

demo: deps
	@$(VM)/demo

# Not a test: our driver on 6.12 against mainline vfio-pci on 7.x, a table.
bench: deps
	@$(VM)/bench

checkpatch: deps
	@$(VM)/host/checkpatch.sh

.PHONY: all modules install dkms-src dkms-install dkms-remove deb clean-tree tools clean deps check check-host demo bench checkpatch
