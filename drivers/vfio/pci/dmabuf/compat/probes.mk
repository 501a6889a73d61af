# SPDX-License-Identifier: GPL-2.0
# Compile probes, shared by every module of the project. Include from a
# Kbuild file after setting vd_compat_dir to this directory and
# vd_compat_objs to the objects that include compat_probed.h, directly or
# through dma_buf_compat.h (this directory is put on the include path).
#
# Each compat/NAME.c is compiled with the flags kbuild compiles modules
# with; the ones that compile cleanly define VD_HAVE_NAME in
# $(obj)/compat_probed.h. if_changed reruns them when those flags change,
# e.g. when the same tree is built against another KDIR.
vd_probe_flags = $(NOSTDINC_FLAGS) $(LINUXINCLUDE) $(KBUILD_CPPFLAGS) \
	$(KBUILD_CFLAGS) $(KBUILD_CFLAGS_MODULE) -DMODULE \
	-include $(srctree)/include/linux/compiler_types.h
quiet_cmd_vd_probe = PROBE   $@
      cmd_vd_probe = $(CONFIG_SHELL) $(vd_compat_dir)/probe.sh $@ "$(CC)" \
		     "$(vd_probe_flags)" $(filter %.c,$^)

$(obj)/compat_probed.h: $(wildcard $(vd_compat_dir)/*.c) $(vd_compat_dir)/probe.sh FORCE
	$(call if_changed,vd_probe)

targets += compat_probed.h
clean-files += compat_probed.h
$(addprefix $(obj)/,$(vd_compat_objs)): $(obj)/compat_probed.h
ccflags-y += -I$(obj) -I$(vd_compat_dir)
