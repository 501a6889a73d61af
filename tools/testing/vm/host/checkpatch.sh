#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# checkpatch.pl --strict (from Debian's linux-source) over the kernel code:
# drivers/, include/, and the test modules elsewhere (each folder with a
# Kbuild: selftests/vfio-dmabuf/importer/, tools/testing/vm/splat/); and
# upstream/'s and selftests/mainline-vfio/'s patches as patches, with the
# checkpatch.pl of the source they are for (the src7 tag's).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
src=$("$VD_RIG/fetch-source.sh" 6.12 scripts/checkpatch.pl scripts/spelling.txt \
	scripts/const_structs.checkpatch)
cd "$VD_TOP"
mods=$(git ls-files -co --exclude-standard ':(glob)**/Kbuild' | xargs -r -n1 dirname |
	grep -Ev '^(drivers|include)/' || true)
# shellcheck disable=SC2086
files=$(git ls-files -co --exclude-standard drivers include $mods | grep -E '\.[ch]$' |
	grep -v compat_probed.h)
# shellcheck disable=SC2086
"$src/scripts/checkpatch.pl" --strict --no-tree --terse --show-types \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG -f $files
src7=$("$VD_RIG/fetch-source.sh" src7 scripts/checkpatch.pl scripts/spelling.txt \
	scripts/const_structs.checkpatch)
# From their folders: run from the top, 7.3's checkpatch.pl takes the blank
# context lines of a patch named upstream/... for trailing whitespace.
# Without MISSING_FIXES_TAG: the rig has Debian's source, not mainline's
# history, so the Fixes: tags are for the sender to add (upstream/README.md).
(cd upstream && "$src7/scripts/checkpatch.pl" --strict --no-tree --terse --show-types \
	--ignore MISSING_FIXES_TAG ./*.patch)
(cd selftests/mainline-vfio && "$src7/scripts/checkpatch.pl" --strict --no-tree --terse \
	--show-types ./*.patch)
