#!/bin/sh
# Builds fixtures/pe/pe32_sample.dll (x86 PE32) with clang-14, lld-link-14, llvm-dlltool-14,
# llvm-rc-14 and the i686 mingw-w64 import libraries. CI does not run this; the output is committed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/../../fixtures/pe}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
MINGW=/usr/i686-w64-mingw32
cd "$here"
clang-14 --target=i686-w64-mingw32 -O1 -fno-stack-protector -fno-builtin -c pe32_sample.c -o "$tmp/pe32_sample.obj"
llvm-dlltool-14 -m i386 -k -d peer.def -l "$tmp/peer.lib"
llvm-dlltool-14 -m i386 -k -d delayed.def -l "$tmp/delayed.lib"
llvm-rc-14 -no-preprocess -fo "$tmp/pe32_sample.res" pe32_sample.rc
lld-link-14 /machine:x86 /safeseh:no /dll /nodefaultlib /Brepro /entry:DllMain@12 /def:pe32_sample.def \
  /delayload:delayed.dll /debug /pdbaltpath:%_PDB% "/pdb:$tmp/pe32_sample.pdb" \
  "/out:$out/pe32_sample.dll" "/implib:$tmp/pe32_sample.lib" \
  "$tmp/pe32_sample.obj" "$tmp/pe32_sample.res" "$tmp/peer.lib" "$tmp/delayed.lib" "$MINGW/lib/libkernel32.a"
ls -l "$out"
