# SPDX-License-Identifier: GPL-2.0
"""The host half of the rig, one module per concern; the entry points
(check, demo, bench, prove-splat) sit one folder up.

config    the guest kernels (tags, labels, which driver each tests), the
          cache and run paths; host/lib.sh takes them from here too
util      log lines, subprocesses
build     what the guests need: kernels, modules, test programs, initramfs
qemu      the machine: a guest's share, its QEMU command line, a boot
tap       the TAP make check prints, the guests' TAP, kernel splats
docs      the tables in docs/ generated from the kernels' answers
packages  make deb and the package tests in Debian chroots
bench     make bench's pooled samples and its table
"""
