#!/bin/sh
# Builds fixtures/pe/pe32_sample.dll (x86 PE32) with clang-14, lld-link-14, llvm-dlltool-14,
# llvm-rc-14 and the i686 mingw-w64 import libraries. CI does not run this; the output is committed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/../../fixtures/pe}
# A fixed build directory: its path ends up in the PDB, and /Brepro hashes the PDB into the GUID.
tmp=/tmp/etw-atlas-pe32-fixture
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
MINGW=/usr/i686-w64-mingw32
cp "$here/pe32_sample.c" "$here/pe32_sample.def" "$here/pe32_sample.rc" "$here/peer.def" "$here/delayed.def" "$tmp/"
# Work inside $tmp with relative paths.
cd "$tmp"
clang-14 --target=i686-w64-mingw32 -O1 -fno-stack-protector -fno-builtin -c pe32_sample.c -o pe32_sample.obj
llvm-dlltool-14 -m i386 -k -d peer.def -l peer.lib
llvm-dlltool-14 -m i386 -k -d delayed.def -l delayed.lib
llvm-rc-14 -no-preprocess -fo pe32_sample.res pe32_sample.rc
lld-link-14 /machine:x86 /safeseh:no /dll /nodefaultlib /Brepro /entry:DllMain@12 /def:pe32_sample.def \
  /delayload:delayed.dll /debug /pdbaltpath:%_PDB% /pdb:pe32_sample.pdb /out:pe32_sample.dll /implib:pe32_sample.lib \
  pe32_sample.obj pe32_sample.res peer.lib delayed.lib "$MINGW/lib/libkernel32.a"
cp pe32_sample.dll "$out/"
ls -l "$out"
