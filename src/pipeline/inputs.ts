/**
 * Default inputs of `etw-atlas start`: the shared corpus beside the repository when present,
 * otherwise the sample committed in the repository (`fixtures/`: PE/PDB fixtures with
 * TraceLogging, WEVT_TEMPLATE, WPP and ETW write sites, plus a small instrumentation manifest for
 * two of their providers) — read from disk, no network. On request (`start --sample`) a
 * redistributable real sample instead: OpenConsole.exe and conpty.dll (MIT-licensed Microsoft
 * binaries with TraceLogging) from the npm package node-pty@1.1.0, fetched with `npm pack`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { isSafeArchivePath, readTar } from "../util/tar.js";
import { unpackTarXz } from "../util/tar-xz.js";

export const SAMPLE_PACKAGE = "node-pty@1.1.0";
/** Files of the package worth scanning: the conpty binaries (x64 and arm64 builds). */
export const SAMPLE_FILES = /^package\/prebuilds\/win32-[a-z0-9]+\/conpty\/(OpenConsole\.exe|conpty\.dll)$/;

/** The repository (or installed package) root: dist/src/pipeline/ → three levels up. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/**
 * The shared corpus: `ETW_ATLAS_CORPUS` when set (a missing directory there means no corpus),
 * else `../shared/corpus` relative to the working directory, else to the repository root.
 */
export function findCorpus(
  cwd: string,
  repoRoot: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
  const given = env.ETW_ATLAS_CORPUS;
  if (given !== undefined && given !== "") return isDir(resolve(given)) ? resolve(given) : undefined;
  for (const base of [cwd, repoRoot]) {
    const p = resolve(base, "..", "shared", "corpus");
    if (isDir(p)) return p;
  }
  return undefined;
}

/** `findCorpus` from the working directory and this package's root. */
export function defaultCorpus(): string | undefined {
  return findCorpus(process.cwd(), packageRoot);
}

/** The sample committed in the repository (`fixtures/`), used when there is no corpus; no network. */
export function committedSample(root: string = packageRoot): string | undefined {
  const dir = join(root, "fixtures");
  return existsSync(join(dir, "sample")) ? dir : undefined;
}

/**
 * Extracts the sample's binaries from an npm package tarball (.tgz) into `dir`; returns the paths.
 * Only entries matching `wanted` are written, each below `dir` (no absolute or `..` paths).
 */
export function extractPackageFiles(tgz: Uint8Array, dir: string, wanted: RegExp): string[] {
  const out: string[] = [];
  for (const e of readTar(gunzipSync(tgz))) {
    if (e.type !== "0" || !wanted.test(e.name) || !isSafeArchivePath(e.name)) continue;
    const target = join(dir, ...e.name.split("/").slice(1)); // drop npm's "package/" prefix
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, e.data);
    out.push(target);
  }
  return out.sort();
}

/** Fetches (once; cached in `cacheDir`) the sample package and extracts its binaries. */
export function fetchSample(cacheDir: string, log: (line: string) => void): string {
  const dir = join(cacheDir, SAMPLE_PACKAGE.replace("@", "-"));
  const marker = `${dir}.complete`; // beside the directory, so the scan does not see it
  if (existsSync(marker)) return dir;
  mkdirSync(dir, { recursive: true });
  const tgzName = `${SAMPLE_PACKAGE.replace("@", "-")}.tgz`;
  const tgz = join(cacheDir, tgzName);
  if (!existsSync(tgz)) {
    log(`fetching ${SAMPLE_PACKAGE} from the npm registry (npm pack) into ${cacheDir} …`);
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    execFileSync(npm, ["pack", SAMPLE_PACKAGE, "--pack-destination", cacheDir, "--silent"], {
      stdio: ["ignore", "ignore", "inherit"],
      shell: process.platform === "win32",
    });
    if (!existsSync(tgz)) throw new Error(`npm pack ${SAMPLE_PACKAGE} produced no ${tgzName} in ${cacheDir}`);
  }
  const files = extractPackageFiles(readFileSync(tgz), dir, SAMPLE_FILES);
  if (files.length === 0) throw new Error(`${basename(tgz)} holds none of the expected conpty binaries`);
  log(
    `extracted ${files.length} files from ${basename(tgz)}: ${files.map((f) => f.slice(dir.length + 1)).join(", ")}`,
  );
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  return dir;
}

/**
 * The corpus keeps 2,417 rebuilt manifests in `manifests/*.tar.xz`; the scanner reads plain files,
 * so they are unpacked once into the cache (unpackTarXz: the system `tar`).
 * Returns the directories to scan in addition; on failure, a note instead.
 */
export function unpackCorpusArchives(
  corpus: string,
  cacheDir: string,
  log: (line: string) => void,
): string[] {
  const manifests = join(corpus, "manifests");
  if (!existsSync(manifests)) return [];
  const out: string[] = [];
  for (const name of readdirSync(manifests)
    .filter((n) => n.endsWith(".tar.xz"))
    .sort()) {
    const dir = join(cacheDir, "corpus", name.replace(/\.tar\.xz$/, ""));
    const marker = `${dir}.complete`; // beside the directory, so the scan does not see it
    if (!existsSync(marker)) {
      try {
        log(`unpacking ${name} into ${dir} …`);
        unpackTarXz(join(manifests, name), dir);
        writeFileSync(marker, `${new Date().toISOString()}\n`);
      } catch (err) {
        log(
          `note: could not unpack ${name} (${(err as Error).message.split("\n")[0]}); its manifests are not scanned`,
        );
        continue;
      }
    }
    out.push(dir);
  }
  return out;
}
