# SPDX-License-Identifier: GPL-2.0
# Shell helpers for the guest scripts (guest-run.sh, bench-guest.sh),
# copied into every share beside run.sh. Sourced, not executed.

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
