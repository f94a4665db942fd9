#!/bin/sh
# Builds the message-table fixtures from messages.mc (Windows-1252 text) with binutils' windmc:
#   ansi-1252.bin  entries with Flags 0 (ANSI, code page 1252)
#   unicode.bin    entries with Flags 1 (UTF-16LE)
# Output goes to ../../fixtures/messagetable/. Needs x86_64-w64-mingw32-windmc (mingw-w64 binutils).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../../fixtures/messagetable"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
cd "$tmp"
x86_64-w64-mingw32-windmc -a -A -C 1252 -O 1252 "$here/messages.mc"
cp MSG00409.bin "$out/ansi-1252.bin"
rm -f MSG00409.bin
x86_64-w64-mingw32-windmc -a -U -C 1252 "$here/messages.mc"
cp MSG00409.bin "$out/unicode.bin"
