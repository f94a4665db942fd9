#!/bin/sh
# Builds the TraceLogging fixtures in ../../fixtures/tracelogging from the C sources here with
# Debian's clang-14 and lld-link-14. CI does not run this: the outputs are committed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/../../fixtures/tracelogging}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
CLANG=${CLANG:-clang-14}
LLD=${LLD:-lld-link-14}
for name in tlg_blobs rust_layout; do
  (cd "$here" && $CLANG --target=x86_64-pc-windows-msvc -O1 -Wall -fno-stack-protector -c "$name.c" -o "$tmp/$name.obj")
  $LLD /machine:x64 /dll /nodefaultlib /noentry /Brepro /opt:noref "/implib:$tmp/$name.lib" "/out:$out/$name.dll" "$tmp/$name.obj"
done
ls -l "$out"
