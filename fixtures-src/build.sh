#!/bin/sh
# Builds the PE + PDB fixtures in ../fixtures from the C sources here, with Debian's clang-14,
# lld-link-14 and the mingw-w64 headers / import libraries. CI does not run this: the outputs are
# committed. To add a fixture: write foo.c and add one `user_dll` / `kernel_sys` line at the end.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/../fixtures}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

MINGW=/usr/x86_64-w64-mingw32
CLANG=${CLANG:-clang-14}
LLD=${LLD:-lld-link-14}
# mingw target (its headers) with CodeView debug info; -fms-extensions for __annotation.
CFLAGS="--target=x86_64-w64-mingw32 -fms-extensions -O1 -g -gcodeview -fno-stack-protector -fno-builtin -ffunction-sections
  -Wall -Wno-unknown-pragmas -Wno-pragma-pack -isystem $MINGW/include/ddk
  -D_AMD64_ -DWIN32_LEAN_AND_MEAN -DNTDDI_VERSION=0x0A000000 -D_WIN32_WINNT=0x0A00"
# Reproducible output: fixed timestamps, no absolute build paths.
LDFLAGS="/machine:x64 /debug /nodefaultlib /Brepro /opt:ref /pdbaltpath:%_PDB% /pdbsourcepath:C:\\fixtures"

compile() { # name [extra cflags]
  name=$1; shift
  # shellcheck disable=SC2086
  (cd "$here" && $CLANG $CFLAGS ${OPT:-} -fdebug-prefix-map="$here"=. "$@" -c "$name.c" -o "$tmp/$name.obj")
}

# user_dll NAME LIBS... : a user-mode DLL (entry DllMain)
user_dll() {
  name=$1; shift
  compile "$name"
  (cd "$tmp" && $LLD $LDFLAGS /dll /implib:$name.lib /entry:DllMain /subsystem:windows "/out:$out/$name.dll" "/pdb:$out/$name.pdb" \
    "$name.obj" "$@")
}

# kernel_sys NAME LIBS... : a kernel-mode driver (entry DriverEntry, imports from ntoskrnl.exe)
kernel_sys() {
  name=$1; shift
  compile "$name" -D_KERNEL_MODE -DNTOSAPI= -DNTKERNELAPI=
  (cd "$tmp" && $LLD $LDFLAGS /driver /subsystem:native /entry:DriverEntry "/out:$out/$name.sys" "/pdb:$out/$name.pdb" \
    "$name.obj" "$@")
}

user_dll user_etw "$MINGW/lib/libadvapi32.a" "$MINGW/lib/libkernel32.a"
kernel_sys kernel_etw "$MINGW/lib/libntoskrnl.a"
# The same driver object relinked with 8 KiB MSF pages (the page size of very large PDBs), for the
# PDB reader's block-size handling.
(cd "$tmp" && $LLD $LDFLAGS /pdbpagesize:8192 /driver /subsystem:native /entry:DriverEntry \
  "/out:$out/kernel_etw_8k.sys" "/pdb:$out/kernel_etw_8k.pdb" kernel_etw.obj "$MINGW/lib/libntoskrnl.a")
# WPP fixtures: lld-link-14 blanks S_ANNOTATION into S_SKIP; restore-annotations.mjs copies the
# records back from the .obj (see its header).
kernel_sys wpp_driver "$MINGW/lib/libntoskrnl.a"
node "$here/restore-annotations.mjs" "$tmp/wpp_driver.obj" "$out/wpp_driver.pdb"
user_dll wpp_user "$MINGW/lib/libadvapi32.a" "$MINGW/lib/libkernel32.a"
node "$here/restore-annotations.mjs" "$tmp/wpp_user.obj" "$out/wpp_user.pdb"
kernel_sys etw_patterns "$MINGW/lib/libntoskrnl.a"
# TraceLogging write sites (hand-laid ETW0 metadata, two providers) for the analysis recognizer.
user_dll tracelogging_sites "$MINGW/lib/libadvapi32.a" "$MINGW/lib/libkernel32.a"
# TraceLogging provider association through registers kept across calls and singleton getters
# (five providers; expected provider per event in tracelogging_providers.expected.json).
user_dll tracelogging_providers "$MINGW/lib/libadvapi32.a" "$MINGW/lib/libkernel32.a"
# One event-write wrapper with 640 callers (no fixed cap on a wrapper's callers).
kernel_sys wrapper_callers "$MINGW/lib/libntoskrnl.a"
# Recall patterns (issue 16): a hand-made WEVT_TEMPLATE (make-crim.mjs from the expected rows) linked in.
node "$here/make-crim.mjs" "$here/recall_patterns.expected.json" "$tmp/recall_patterns.crim"
printf '1 WEVT_TEMPLATE "recall_patterns.crim"\n' > "$tmp/recall_patterns.rc"
(cd "$tmp" && llvm-rc-14 -no-preprocess -fo recall_patterns.res recall_patterns.rc)
user_dll recall_patterns "$tmp/recall_patterns.res" "$MINGW/lib/libadvapi32.a" "$MINGW/lib/libkernel32.a" "$MINGW/lib/libntdll.a"
# Guard conditions of write sites, at -O2 (later -O wins over CFLAGS' -O1): keyword, failure-only,
# success-only, both, feature flags, nested guards, loop, jump-table switch.
OPT=-O2 kernel_sys conditions "$MINGW/lib/libntoskrnl.a"
ls -l "$out"
