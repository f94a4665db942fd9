import { readFileSync, statSync } from "node:fs";

/**
 * Input files of the single-file commands (pe, pdb, wpp, analyze, symbols) are read whole, and
 * parsing multiplies their size (a 1.5 GB sparse PE drove `wpp` to 6.1 GB): above this bound a
 * command refuses the file with a clear error. ETW_ATLAS_MAX_INPUT_MIB raises it.
 */
export function maxInputBytes(env: Record<string, string | undefined> = process.env): number {
  const mib = Number(env.ETW_ATLAS_MAX_INPUT_MIB ?? "1024");
  return (Number.isFinite(mib) && mib > 0 ? mib : 1024) * 2 ** 20;
}

/** Checks that `path` is a regular file within the input bound; throws an error naming it. */
export function checkInput(path: string, max = maxInputBytes()): number {
  const st = statSync(path);
  if (!st.isFile())
    throw new Error(
      `${path}: not a regular file (${st.isDirectory() ? "a directory" : "a FIFO, socket or device"}); this command reads one file`,
    );
  if (st.size > max)
    throw new Error(
      `${path}: ${(st.size / 2 ** 20).toFixed(0)} MiB is more than the ${(max / 2 ** 20).toFixed(0)} MiB limit for single-file commands (set ETW_ATLAS_MAX_INPUT_MIB to raise it)`,
    );
  return st.size;
}

/** Reads a single-file command's input after checkInput. */
export function readInput(path: string, max = maxInputBytes()): Uint8Array {
  checkInput(path, max);
  return new Uint8Array(readFileSync(path));
}
