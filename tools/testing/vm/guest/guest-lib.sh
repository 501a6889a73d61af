# SPDX-License-Identifier: GPL-2.0
# Shell helpers for the guest scripts (guest-run.sh, topology-guest.sh,
# bench-guest.sh), copied into every share beside run.sh. Sourced, not
# executed.

find_devs() { # find_devs VENDOR:DEVICE: every such device's BDF, in bus order
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/vendor):$(cat $d/device)" = "$1" ] && basename $d
	done
}

find_dev() { # find_dev VENDOR:DEVICE: the first such device's BDF
	find_devs "$1" | head -n1 | grep .
}

bind() { # bind BDF DRIVER, through driver_override
	echo "$2" >/sys/bus/pci/devices/$1/driver_override || return 1
	if [ -e /sys/bus/pci/devices/$1/driver ]; then
		echo "$1" >/sys/bus/pci/devices/$1/driver/unbind || return 1
	fi
	echo "$1" >/sys/bus/pci/drivers_probe
	drv=$(basename "$(readlink /sys/bus/pci/devices/$1/driver)")
	[ "$drv" = "$2" ] || { echo "$1 bound to '$drv', not $2"; return 1; }
}

unbind() { # unbind BDF, and clear its driver_override
	echo "$1" >/sys/bus/pci/devices/$1/driver/unbind || return 1
	echo >/sys/bus/pci/devices/$1/driver_override
	[ ! -e /sys/bus/pci/devices/$1/driver ] || { echo "still bound"; return 1; }
}

# TAP for the steps a script takes, numbered across files by $n.
n=0
tap() { # tap FILE ok|not-ok NAME [DIAG]
	n=$((n + 1))
	[ -n "$4" ] && echo "$4" | sed 's/^/# /' >>"$1"
	if [ "$2" = ok ]; then echo "ok $n $3" >>"$1"; else echo "not ok $n $3" >>"$1"; fi
	[ "$2" = ok ]
}
step() { # step FILE NAME CMD...: run CMD, record it as a test
	f=$1 name=$2
	shift 2
	if msg=$("$@" 2>&1); then tap "$f" ok "$name"; else tap "$f" not-ok "$name" "$msg"; fi
}
load() { # load the VFIO stack and the driver under test ($VD_KO, else $VD_DRIVER)
	modprobe vfio && modprobe vfio_iommu_type1 && modprobe vfio_pci_core || return 1
	if [ -n "$VD_KO" ]; then insmod "$H/$VD_KO"; else modprobe "$VD_DRIVER"; fi
}
