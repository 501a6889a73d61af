# SPDX-License-Identifier: GPL-2.0
#
#   make [KDIR=...]   build vfio-pci-dmabuf.ko for a kernel (default: running)
#   make demo         boot a Debian 6.12 guest and export a BAR, end to end
#   make check        every test on every guest kernel (TAP)
#   make checkpatch   checkpatch.pl --strict on drivers/ and include/
KDIR ?= /lib/modules/$(shell uname -r)/build
MDIR := $(CURDIR)/drivers/vfio/pci/dmabuf
VM := tools/testing/vm

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(MDIR) modules

clean:
	$(MAKE) -C $(KDIR) M=$(MDIR) clean 2>/dev/null || \
		rm -f $(MDIR)/*.o $(MDIR)/*.ko $(MDIR)/*.mod* $(MDIR)/compat_probed.h

deps:
	@$(VM)/host-deps.sh

# KERNELS=6.1,6.12,7.x selects guest kernels; V=1 shows their consoles.
check: deps
	@$(VM)/check.py $(if $(KERNELS),-k $(KERNELS)) $(if $(filter 1,$(V)),-v)

demo: deps
	@$(VM)/demo.py

checkpatch: deps
	@$(VM)/checkpatch.sh

.PHONY: all modules clean deps check demo checkpatch
