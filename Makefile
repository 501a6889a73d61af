# SPDX-License-Identifier: GPL-2.0
#
#   make [KDIR=...]   build vfio-pci-dmabuf.ko for a kernel (default: running)
#   make install      install it for that kernel (modules_install + depmod)
#   make dkms-install register this tree with DKMS, build and install it
#   make tools        build the vfio-dmabuf command line tool
#   make demo         boot a Debian 6.12 guest and export a BAR, end to end
#   make bench        time and size exports, maps and revokes: ours vs mainline
#   make check        every test on every guest kernel (TAP)
#   make checkpatch   checkpatch.pl --strict on drivers/ and include/
KDIR ?= /lib/modules/$(shell uname -r)/build
MDIR := $(CURDIR)/drivers/vfio/pci/dmabuf
VM := tools/testing/vm

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(MDIR) modules

# DKMS wants the source under /usr/src/NAME-VERSION: the driver, its uAPI
# header, this Makefile and dkms.conf, nothing else.
DKMS_VER := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
DKMS_SRC ?= /usr/src/vfio-pci-dmabuf-$(DKMS_VER)

install: modules
	$(MAKE) -C $(KDIR) M=$(MDIR) modules_install

# Stage the DKMS source tree in DKMS_SRC.
dkms-src:
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)/include/uapi/linux
	cp Makefile dkms.conf $(DKMS_SRC)/
	cp include/uapi/linux/vfio_dmabuf.h $(DKMS_SRC)/include/uapi/linux/
	cp -r --parents drivers/vfio/pci/dmabuf $(DKMS_SRC)/
	find $(DKMS_SRC)/drivers \( -name '*.o' -o -name '*.ko' -o -name '*.mod*' \
		-o -name compat_probed.h -o -name '.*.cmd' \) -delete

dkms-install: dkms-src
	dkms add vfio-pci-dmabuf/$(DKMS_VER) || true
	dkms install vfio-pci-dmabuf/$(DKMS_VER)

dkms-remove:
	dkms remove vfio-pci-dmabuf/$(DKMS_VER) --all || true
	rm -rf $(DKMS_SRC)

tools:
	$(MAKE) -C tools/vfio-dmabuf

clean:
	$(MAKE) -C $(KDIR) M=$(MDIR) clean 2>/dev/null || \
		rm -f $(MDIR)/*.o $(MDIR)/*.ko $(MDIR)/*.mod* $(MDIR)/compat_probed.h

deps:
	@$(VM)/host-deps.sh

# KERNELS=6.1,6.12,7.x,dbg selects guest kernels; V=1 shows their consoles.
check: deps
	@$(VM)/check.py $(if $(KERNELS),-k $(KERNELS)) $(if $(filter 1,$(V)),-v)

demo: deps
	@$(VM)/demo.py

# Not a test: our driver on 6.12 against mainline vfio-pci on 7.x, a table.
bench: deps
	@$(VM)/bench.py

checkpatch: deps
	@$(VM)/checkpatch.sh

.PHONY: all modules install dkms-src dkms-install dkms-remove tools clean deps check demo bench checkpatch
