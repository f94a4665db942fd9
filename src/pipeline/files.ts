/**
 * Which files a scan reads: regular files under the given paths (directories recursively). A
 * directory that cannot be listed (ACL-protected folders of a mounted Windows) or a path that is
 * not a regular file (FIFO, device, socket) becomes a recorded problem, never an abort or a hang.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  statSync,
} from "node:fs";
import { join, resolve } from "node:path";

export interface CollectedFiles {
  /** Regular files, sorted within each directory, each once. */
  files: string[];
  /** Paths that could not be listed or are not regular files, with the reason. */
  problems: Array<{ path: string; error: string }>;
  /** Directories that were listed completely: files under them that are gone can be pruned. */
  completeDirs: string[];
}

function describe(st: import("node:fs").Stats): string {
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/** Every regular file under `paths` with the problems met on the way; throws only for a missing path. */
export function collectFilesDetailed(paths: string[]): CollectedFiles {
  const out = new Set<string>();
  const problems: CollectedFiles["problems"] = [];
  const completeDirs: string[] = [];
  const list = (dir: string): string[] | undefined => {
    try {
      return readdirSync(dir).sort();
    } catch (err) {
      problems.push({ path: dir, error: `cannot list directory: ${(err as Error).message}` });
      return undefined;
    }
  };
  // Returns whether everything below `dir` was listed.
  const walkDir = (dir: string): boolean => {
    const names = list(dir);
    if (!names) return false;
    let complete = true;
    for (const name of names) if (!walk(join(dir, name))) complete = false;
    if (complete) completeDirs.push(resolve(dir));
    return complete;
  };
  const walk = (p: string): boolean => {
    let st: import("node:fs").Stats;
    try {
      st = lstatSync(p);
    } catch (err) {
      problems.push({ path: p, error: `cannot stat: ${(err as Error).message}` });
      return false;
    }
    if (st.isSymbolicLink()) return true; // avoids cycles; scan real locations explicitly
    if (st.isDirectory()) return walkDir(p);
    if (st.isFile()) out.add(p);
    // FIFOs, devices and sockets inside a tree are not files to read; silently not scanned.
    return true;
  };
  for (const p of paths) {
    let st: import("node:fs").Stats;
    try {
      // A path named explicitly may be a symlink: follow it once.
      st = statSync(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT")
        throw new Error(`no such file or directory: ${p}`);
      problems.push({ path: p, error: `cannot stat: ${(err as Error).message}` });
      continue;
    }
    if (st.isDirectory()) walkDir(p);
    else if (st.isFile()) out.add(p);
    else problems.push({ path: p, error: `${describe(st)}, not a file to read` });
  }
  return { files: [...out], problems, completeDirs };
}

/** Every regular file under the given paths (directories recursively), sorted, each once. */
export function collectFiles(paths: string[]): string[] {
  return collectFilesDetailed(paths).files;
}

/**
 * Reads a regular file of at most `maxBytes` without ever blocking on a FIFO or device: the file
 * is opened non-blocking and checked with fstat (no race between check and read). A file that is
 * too large or not a regular file comes back with `skip` (the reason) and no bytes read.
 */
export function readRegularFile(
  path: string,
  maxBytes: number,
): { bytes: Buffer; mtime: Date; skip?: undefined } | { skip: string; bytes?: undefined } {
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { skip: `${describe(st)}, not a file to read` };
    if (st.size > maxBytes) return { skip: `larger than ${maxBytes} bytes` };
    const buf = Buffer.allocUnsafe(st.size);
    let done = 0;
    while (done < st.size) {
      const n = readSync(fd, buf, done, st.size - done, done);
      if (n === 0) break; // truncated while reading
      done += n;
    }
    return { bytes: done === st.size ? buf : buf.subarray(0, done), mtime: st.mtime };
  } finally {
    closeSync(fd);
  }
}

/** Largest input a single-file command (`pe`, `pdb`, `wpp`, `analyze`) reads into memory. */
export const MAX_INPUT_FILE_BYTES = 1024 * 1024 * 1024;

/**
 * A file named on the command line, read whole: a clear error naming it for a FIFO, device,
 * directory or a file over `maxBytes` (never a hang, never gigabytes of memory).
 */
export function readInputFile(path: string, maxBytes = MAX_INPUT_FILE_BYTES): Uint8Array {
  const r = readRegularFile(path, maxBytes);
  if (r.skip !== undefined) throw new Error(`${path}: ${r.skip}`);
  return new Uint8Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength);
}
