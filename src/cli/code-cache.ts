/**
 * Runs a CommonJS bundle of the CLI (dist/bin/*.cjs, scripts/bundle-cli.mjs) through `vm.Script`
 * with V8's code cache: the bytecode of the functions a warm-up run compiled, written by the build
 * beside the bundle. Node 20 has no module compile cache; for `analyze` of a small image compiling
 * the bundle (iced-x86's JavaScript is most of it) is a tenth of the process's CPU.
 *
 * The cache is only ever a shortcut. It is used when it was made from these very bytes (their
 * SHA-256 heads the cache file; V8 itself compares only the source's length) and V8 accepts it
 * (same V8 version and flags); otherwise the bundle is compiled as usual. The CLI never writes it:
 * a cache made under other flags (a user's `node --flag`) would be rejected by the next ordinary
 * run and rewritten back and forth; the build writes it once (`ETW_ATLAS_WRITE_CODE_CACHE=1`).
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import { Script } from "node:vm";

// Through require: an ES import of node:crypto would run its lazy getters (webcrypto) at start.
const { createHash } = createRequire(import.meta.url)("node:crypto") as typeof import("node:crypto");

/**
 * Header of a cache file: the SHA-256 of the bundle it was made from, then that of V8's data
 * (V8 does not check its data: damaged data can crash the process).
 */
const HEADER_BYTES = 64;

/** Cache file of a bundle. */
export const codeCacheFile = (bundle: string): string => `${bundle}.v8cache`;

const sha256 = (bytes: Uint8Array): Buffer => createHash("sha256").update(bytes).digest();

/** The bundle's text and the hash that names its cache. */
function readBundle(bundle: string): { source: string; hash: Buffer } {
  const bytes = readFileSync(bundle);
  return { source: bytes.toString("utf8"), hash: sha256(bytes) };
}

function cachedDataFor(bundle: string, hash: Buffer): Buffer | undefined {
  let data: Buffer;
  try {
    data = readFileSync(codeCacheFile(bundle));
  } catch {
    return undefined;
  }
  if (data.length <= HEADER_BYTES || !data.subarray(0, 32).equals(hash)) return undefined;
  const body = data.subarray(HEADER_BYTES);
  return data.subarray(32, HEADER_BYTES).equals(sha256(body)) ? body : undefined;
}

const wrap = (source: string) =>
  `(function (exports, require, module, __filename, __dirname, __import) {${source}\n})`;

/** Whether V8 accepts the bundle's code cache in this process (what the build checks). */
export function codeCacheAccepted(bundle: string): boolean {
  const { source, hash } = readBundle(bundle);
  const cachedData = cachedDataFor(bundle, hash);
  if (!cachedData) return false;
  return !new Script(wrap(source), { filename: bundle, cachedData }).cachedDataRejected;
}

/**
 * Loads a CommonJS bundle and returns its exports. The bundle calls `__import(specifier)` where it
 * would call `import()` (a vm script cannot without a flag).
 */
export function loadBundle(bundle: string): Record<string, unknown> {
  const { source, hash } = readBundle(bundle);
  const script = new Script(wrap(source), { filename: bundle, cachedData: cachedDataFor(bundle, hash) });
  const base = pathToFileURL(bundle);
  const module = { exports: {} as Record<string, unknown> };
  (script.runInThisContext() as (...args: unknown[]) => void).call(
    module.exports,
    module.exports,
    createRequire(bundle),
    module,
    bundle,
    dirname(bundle),
    (specifier: string) => import(new URL(specifier, base).href),
  );
  if (process.env.ETW_ATLAS_WRITE_CODE_CACHE === "1")
    // At exit: the cache then holds every function this run compiled.
    process.once("exit", () => {
      const tmp = `${codeCacheFile(bundle)}.${process.pid}.tmp`;
      const body = script.createCachedData();
      writeFileSync(tmp, Buffer.concat([hash, sha256(body), body]));
      renameSync(tmp, codeCacheFile(bundle));
    });
  return module.exports;
}
