/**
 * Runs a CommonJS bundle of the CLI (dist/bin/*.cjs, scripts/bundle-cli.mjs) through `vm.Script`
 * with V8's code cache: the bytecode of the functions a warm-up run compiled, written by the build
 * beside the bundle. Node 20 has no module compile cache; for `analyze` of a small image compiling
 * the bundle (iced-x86's JavaScript is most of it) is a tenth of the process's CPU.
 *
 * The cache is only ever a shortcut. It is used when it was made for this very bundle file (size
 * and modification time recorded in its header) and V8 accepts it (same V8 version, same flags,
 * same source length); otherwise the bundle is compiled as usual. The CLI never writes it: a cache
 * made under other flags (a user's `node --flag`) would be rejected by the next ordinary run and
 * rewritten back and forth; the build writes it once (`ETW_ATLAS_WRITE_CODE_CACHE=1`).
 */
import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import { Script } from "node:vm";

/** Header of a cache file: the bundle's size and mtime (ms) as two float64. */
const HEADER_BYTES = 16;

/** Cache file of a bundle. */
export const codeCacheFile = (bundle: string): string => `${bundle}.v8cache`;

function cachedDataFor(bundle: string, size: number, mtimeMs: number): Buffer | undefined {
  let data: Buffer;
  try {
    data = readFileSync(codeCacheFile(bundle));
  } catch {
    return undefined;
  }
  if (data.length <= HEADER_BYTES) return undefined;
  if (data.readDoubleLE(0) !== size || data.readDoubleLE(8) !== mtimeMs) return undefined;
  return data.subarray(HEADER_BYTES);
}

const wrap = (source: string) =>
  `(function (exports, require, module, __filename, __dirname, __import) {${source}\n})`;

/** Whether V8 accepts the bundle's code cache in this process (what the build checks). */
export function codeCacheAccepted(bundle: string): boolean {
  const { size, mtimeMs } = statSync(bundle);
  const cachedData = cachedDataFor(bundle, size, mtimeMs);
  if (!cachedData) return false;
  return !new Script(wrap(readFileSync(bundle, "utf8")), { filename: bundle, cachedData }).cachedDataRejected;
}

/**
 * Loads a CommonJS bundle and returns its exports. The bundle calls `__import(specifier)` where it
 * would call `import()` (a vm script cannot without a flag).
 */
export function loadBundle(bundle: string): Record<string, unknown> {
  const source = readFileSync(bundle, "utf8");
  const { size, mtimeMs } = statSync(bundle);
  const script = new Script(wrap(source), {
    filename: bundle,
    cachedData: cachedDataFor(bundle, size, mtimeMs),
  });
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
      const header = Buffer.alloc(HEADER_BYTES);
      header.writeDoubleLE(size, 0);
      header.writeDoubleLE(mtimeMs, 8);
      const tmp = `${codeCacheFile(bundle)}.${process.pid}.tmp`;
      writeFileSync(tmp, Buffer.concat([header, script.createCachedData()]));
      renameSync(tmp, codeCacheFile(bundle));
    });
  return module.exports;
}
