/**
 * Unpacking `.tar.xz` archives (the corpus keeps its 2,417 rebuilt manifests in one) with the
 * system `tar`: xz is not in node:zlib, so the pure reader in tar.ts cannot take them. Used by
 * `start` (manifests to scan), the tests and the benchmarks.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";

/**
 * Unpacks `archive` into `dir` (created when missing): every entry, or only the named `members`.
 * Returns `dir`. Throws when tar fails; the error message carries tar's stderr.
 */
export function unpackTarXz(archive: string, dir: string, members: readonly string[] = []): string {
  mkdirSync(dir, { recursive: true });
  execFileSync("tar", ["-xJf", archive, "-C", dir, ...members], { stdio: ["ignore", "ignore", "pipe"] });
  return dir;
}
