#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Pull the uncompressed ELF vmlinux out of a bzImage.

QEMU boots an ELF vmlinux through its PVH note, which skips the in-guest
decompressor: a few seconds less per boot under TCG.
usage: extract-vmlinux.py BZIMAGE OUT"""
import gzip
import lzma
import subprocess
import sys
import zlib

MAGICS = [
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x1f\x8b\x08", "gzip"),
]


def inflate(kind, blob):
    if kind == "xz":
        return lzma.LZMADecompressor().decompress(blob)
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(blob)
    # zstd: the CLI stops with an error at the trailing bytes, after writing the frame.
    p = subprocess.run(["zstd", "-dcq"], input=blob, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    return p.stdout


def main():
    img = open(sys.argv[1], "rb").read()
    for magic, kind in MAGICS:
        pos = img.find(magic)
        while pos >= 0:
            try:
                out = inflate(kind, img[pos:])
            except (lzma.LZMAError, zlib.error, gzip.BadGzipFile, OSError):
                out = b""
            if out[:4] == b"\x7fELF":
                open(sys.argv[2], "wb").write(out)
                return 0
            pos = img.find(magic, pos + 1)
    sys.stderr.write("extract-vmlinux: no compressed ELF found in %s\n" % sys.argv[1])
    return 1


if __name__ == "__main__":
    sys.exit(main())
