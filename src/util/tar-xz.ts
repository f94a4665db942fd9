/**
 * Unpacking `.tar.xz` archives (the corpus keeps its 2,417 rebuilt manifests in one) with the
 * system `xz` and `tar`: xz is not in node:zlib, so the pure reader in tar.ts cannot take them.
 * Used by `start` (manifests to scan), the tests and the benchmarks.
 *
 * Bounded and all-or-nothing: the decompressed stream is cut at `maxBytes` (so neither disk nor
 * time grow with a hostile archive's claims), entries are unpacked into a private sibling directory
 * and moved into place only when tar succeeded; on any failure nothing is left behind.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

/** Default bound on an archive's unpacked bytes (the corpus archive unpacks to 58 MB). */
export const MAX_UNPACKED_BYTES = 1 << 30;

// $0 archive, $1 byte limit, $2 target directory, $3 file for xz's exit status; members follow.
const PIPELINE = `a="$0" n="$1" d="$2" s="$3"; shift 3
{ xz -dc -- "$a"; echo $? > "$s"; } | head -c "$n" | tar -xf - -C "$d" --no-same-owner "$@"`;

/**
 * Unpacks `archive` into `dir` (created when missing): every entry, or only the named `members`.
 * Returns `dir`. Throws when xz or tar fails or the archive unpacks to more than `maxBytes`; the
 * message names the archive and carries the tools' complaint.
 */
export function unpackTarXz(
  archive: string,
  dir: string,
  members: readonly string[] = [],
  maxBytes = MAX_UNPACKED_BYTES,
): string {
  mkdirSync(dirname(dir), { recursive: true });
  const work = mkdtempSync(join(dirname(dir), `.${basename(dir)}.partial-`));
  try {
    const into = join(work, "out");
    mkdirSync(into);
    const status = join(work, "xz-status");
    const r = spawnSync("sh", ["-c", PIPELINE, archive, String(maxBytes + 1), into, status, ...members], {
      stdio: ["ignore", "ignore", "pipe"],
      encoding: "utf8",
    });
    const xz = existsSync(status) ? readFileSync(status, "utf8").trim() : "?";
    let unpacked = 0;
    for (const f of readdirSync(into, { recursive: true }) as string[]) {
      const st = statSync(join(into, f));
      if (st.isFile()) unpacked += st.size;
    }
    // xz stops with SIGPIPE (141) when head has taken maxBytes + 1 bytes.
    if (xz === "141" || unpacked > maxBytes)
      throw new Error(`tar -xJf ${archive}: unpacks to more than ${maxBytes} bytes; nothing unpacked`);
    if (r.status !== 0 || xz !== "0")
      throw new Error(
        `tar -xJf ${archive} failed (xz exit ${xz}, tar exit ${r.status ?? r.signal}): ${r.stderr.trim()}; nothing unpacked`,
      );
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(into)) {
      rmSync(join(dir, name), { recursive: true, force: true });
      renameSync(join(into, name), join(dir, name));
    }
    return dir;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
