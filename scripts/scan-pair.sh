#!/usr/bin/env bash
# Whole-folder scan of two builds of etw-atlas, back to back, fresh catalogs (issue 14's "same run,
# old vs new commit"): wall, CPU, cores, peak RSS (GNU time), then the re-run of the new one.
# Usage: scripts/scan-pair.sh OLD_CHECKOUT NEW_CHECKOUT FOLDER [OUT_DIR]
# Each checkout must be built (`npm run build`); OLD_CHECKOUT e.g. a `git worktree add` of the old commit.
set -u
old=$1 new=$2 folder=$3 out=${4:-$(mktemp -d)}
mkdir -p "$out"
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (/usr/bin/time, Debian package time)" >&2; exit 1; }
for which in old new; do
  dir=$old; [ "$which" = new ] && dir=$new
  db="$out/$which.db"; rm -f "$db"*
  (cd "$dir" && /usr/bin/time -f "$which: wall %e s, user %U s, sys %S s, cpu %P, peak RSS %M KiB" \
    node dist/src/cli.js scan "$folder" --db "$db" -q --json > "$out/$which.json" 2> "$out/$which.err")
  tail -1 "$out/$which.err"
done
(cd "$new" && /usr/bin/time -f "new re-run: wall %e s, peak RSS %M KiB" \
  node dist/src/cli.js scan "$folder" --db "$out/new.db" -q --json > /dev/null 2> "$out/rerun.err")
tail -1 "$out/rerun.err"
echo "catalogs and summaries in $out"
