#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# checkpatch.pl --strict (from Debian's linux-source) over drivers/ and include/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
src=$("$VD_RIG/fetch-source.sh" 6.12 scripts/checkpatch.pl scripts/spelling.txt \
	scripts/const_structs.checkpatch)
cd "$VD_TOP"
files=$(git ls-files -co --exclude-standard drivers include | grep -E '\.[ch]$' | grep -v compat_probed.h)
# shellcheck disable=SC2086
"$src/scripts/checkpatch.pl" --strict --no-tree --terse --show-types \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG -f $files
