import type { Command } from "commander";
import {
  findPdbForImage,
  type ResolvedPdb,
  type ResolveOptions,
  SymbolResolveError,
} from "../../symbols/resolve.js";
import { describeError } from "../../util/errors.js";

/** Options shared by every command that needs an image's PDB. */
export interface SymbolCliOptions {
  pdb?: string;
  symbolPath?: string;
  symbolCache?: string;
  imageDir?: boolean;
  timeout?: string;
  verbose?: boolean;
}

/** Adds --pdb, --symbol-path, --symbol-cache, --no-image-dir and --timeout to a command. */
export function addSymbolOptions(cmd: Command): Command {
  return cmd
    .option("--pdb <file>", "use this PDB (must match the image's GUID and age)")
    .option(
      "--symbol-path <path>",
      "symbol path in _NT_SYMBOL_PATH syntax, e.g. srv*C:\\symbols*https://msdl.microsoft.com/download/symbols (default: $_NT_ALT_SYMBOL_PATH;$_NT_SYMBOL_PATH)",
    )
    .option(
      "--symbol-cache <dir>",
      "downstream store for srv*<server> and cache* (default ~/.cache/etw-atlas/symbols)",
    )
    .option("--no-image-dir", "do not look for the PDB next to the image")
    .option("--timeout <seconds>", "per-request timeout for symbol servers", "60");
}

export function resolveOptionsFrom(opts: SymbolCliOptions): ResolveOptions {
  const o: ResolveOptions = {};
  if (opts.pdb) o.pdb = opts.pdb;
  if (opts.symbolPath !== undefined) o.symbolPath = opts.symbolPath;
  if (opts.symbolCache) o.defaultCache = opts.symbolCache;
  if (opts.imageDir === false) o.skipImageDir = true;
  const t = Number(opts.timeout ?? "60");
  if (Number.isFinite(t) && t > 0) o.timeoutMs = t * 1000;
  if (opts.verbose) o.log = (line) => process.stderr.write(`  ${line}\n`);
  return o;
}

/** Finds an image's PDB from CLI options; prints a clear error and returns undefined on failure. */
export async function pdbForImage(image: string, opts: SymbolCliOptions): Promise<ResolvedPdb | undefined> {
  try {
    return await findPdbForImage(image, resolveOptionsFrom(opts));
  } catch (err) {
    process.stderr.write(
      `${err instanceof SymbolResolveError ? `${image}: ${err.message}` : describeError(image, err)}\n`,
    );
    process.exitCode = 1;
    return undefined;
  }
}

export function register(program: Command): void {
  const cmd = program
    .command("symbols")
    .description(
      "Find the PDB of a PE image: --pdb, the image's directory, then the symbol path (directories, " +
        "symbol stores, HTTP symbol servers with file.ptr and .pd_), checking GUID and age",
    )
    .argument("<image>", "PE file (.exe, .dll, .sys)")
    .option("--json", "print the result as JSON")
    .option("-v, --verbose", "print every location tried (stderr)");
  addSymbolOptions(cmd).action(async (image: string, opts: SymbolCliOptions & { json?: boolean }) => {
    const got = await pdbForImage(image, opts);
    if (!got) return;
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify(
          {
            image,
            path: got.path,
            via: got.via,
            from: got.from,
            guid: got.pdb.info.guid,
            age: got.pdb.dbi.age,
            tried: got.tried,
          },
          null,
          2,
        )}\n`,
      );
    } else process.stdout.write(`${got.path}\n`);
  });
}
