import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { collectFiles } from "./files.js";

/**
 * Inputs as users have them: a Windows ISO, an install.wim / .esd, a CAB or an MSU update package.
 * They are unpacked by established tools into a cache folder beside the catalog, and the scan then
 * reads the unpacked tree like any folder. Archives found inside (install.wim inside an ISO, the
 * .cab files inside an .msu) are unpacked in turn. docs/cli/scan.md says which tool reads what.
 */

export type ArchiveKind = "iso" | "wim" | "cab";

/** The Debian package that provides each tool, for the message when it is missing. */
const TOOLS: Record<ArchiveKind, { command: string; debian: string }> = {
  iso: { command: "7zz", debian: "7zip" },
  cab: { command: "7zz", debian: "7zip" },
  wim: { command: "wimlib-imagex", debian: "wimtools" },
};

/** How deep archives inside archives are followed (ISO → install.wim is 2; MSU → CAB → CAB is 3). */
const MAX_NESTING = 3;
/** Where a WIM image keeps what a scan needs; `archivePaths` replaces it. */
const DEFAULT_WIM_PATHS = ["/Windows/System32"];

const SNIFF_BYTES = 0x9800;

/** Recognises an archive by content: ISO 9660 / UDF volume descriptors, the WIM header, the CAB header. */
export function archiveKind(head: Uint8Array): ArchiveKind | undefined {
  const at = (o: number, s: string) => [...s].every((c, i) => head[o + i] === c.charCodeAt(0));
  if (at(0, "MSWIM\0\0\0")) return "wim";
  if (at(0, "MSCF") && head.length >= 8 && head[4] === 0 && head[5] === 0 && head[6] === 0 && head[7] === 0)
    return "cab";
  // Volume descriptors sit in 2 KiB sectors from 32 KiB on: "CD001" (ISO 9660), "BEA01"/"NSR0x" (UDF).
  for (let o = 0x8001; o + 5 <= head.length; o += 2048)
    if (at(o, "CD001") || at(o, "BEA01") || at(o, "NSR02") || at(o, "NSR03")) return "iso";
  return undefined;
}

export interface ExpandOptions {
  /** Folder that holds unpacked archives (kept, so an unchanged archive is unpacked once). */
  cacheDir: string;
  /** WIM/ESD image number (1-based); default 1. */
  wimIndex?: number;
  /** Paths inside a WIM image to unpack; default /Windows/System32 when the image has it. */
  archivePaths?: string[];
  /** Progress and notes for the user (which archive, which tool, what was left out). */
  onNote?: (message: string) => void;
}

export interface ExpandedArchive {
  archive: string;
  kind: ArchiveKind;
  /** Folder the scan reads instead of the archive. */
  root: string;
  /** True when an earlier run had already unpacked this archive. */
  cached: boolean;
}

export interface Expansion {
  /** What the scan reads: the given paths, with each archive replaced by its unpacked folder. */
  paths: string[];
  expanded: ExpandedArchive[];
  /** Archives that could not be unpacked, with why (the scan carries on without them). */
  failed: Array<{ archive: string; error: string }>;
}

/** Replaces every archive among `paths` (files given directly) by the folder it unpacks to. */
export function expandArchives(paths: string[], opts: ExpandOptions): Expansion {
  const out: Expansion = { paths: [], expanded: [], failed: [] };
  for (const p of paths) {
    const kind = isRegularFile(p) ? archiveKind(readHead(p)) : undefined;
    if (!kind) {
      out.paths.push(p);
      continue;
    }
    const root = expandOne(p, kind, opts, out, 1);
    if (root) out.paths.push(root);
  }
  return out;
}

function expandOne(
  file: string,
  kind: ArchiveKind,
  opts: ExpandOptions,
  out: Expansion,
  depth: number,
): string | undefined {
  const st = statSync(file);
  // Keyed by name, size and modification time: hashing a 5 GB image on every run costs more than it saves.
  const key = sha256Hex(
    `${resolve(file)}\0${st.size}\0${st.mtimeMs}\0${opts.wimIndex ?? 1}\0${(opts.archivePaths ?? []).join("\0")}`,
  ).slice(0, 12);
  const root = join(opts.cacheDir, `${basename(file)}-${key}`);
  // The marker sits beside the folder (not in it, where the scan would read it) and is written last.
  const marker = `${root}.complete`;
  const cached = existsSync(marker) && existsSync(root);
  if (!cached) {
    const partial = `${root}.partial`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    opts.onNote?.(`${file}: unpacking ${kind.toUpperCase()} with ${TOOLS[kind].command} into ${root}`);
    try {
      if (kind === "wim") unpackWim(file, partial, opts);
      else run(TOOLS[kind].command, ["x", "-y", "-bd", "-bb0", `-o${partial}`, file], kind);
    } catch (err) {
      rmSync(partial, { recursive: true, force: true });
      out.failed.push({ archive: file, error: (err as Error).message });
      opts.onNote?.(`${file}: not unpacked: ${(err as Error).message}`);
      return undefined;
    }
    // Nested archives are unpacked beside themselves before the folder counts as complete.
    if (depth < MAX_NESTING) {
      for (const inner of collectFiles([partial])) {
        const innerKind = archiveKind(readHead(inner));
        if (!innerKind) continue;
        // The unpacked folder replaces the inner archive (a scan would only skip a 4 GB install.wim).
        const innerRoot = expandOne(
          inner,
          innerKind,
          { ...opts, cacheDir: join(partial, "nested-archives") },
          out,
          depth + 1,
        );
        if (innerRoot) rmSync(inner, { force: true });
      }
    } else opts.onNote?.(`${file}: archives nested deeper than ${MAX_NESTING} levels are not unpacked`);
    rmSync(root, { recursive: true, force: true });
    renameSync(partial, root);
    closeSync(openSync(marker, "w"));
    for (const e of out.expanded)
      if (e.root.startsWith(partial)) e.root = root + e.root.slice(partial.length);
  }
  out.expanded.push({ archive: file, kind, root, cached });
  return root;
}

function unpackWim(file: string, dest: string, opts: ExpandOptions): void {
  const info = run("wimlib-imagex", ["info", file], "wim");
  const count = Number(/Image Count:\s*(\d+)/.exec(info)?.[1] ?? "1");
  const index = opts.wimIndex ?? 1;
  if (index < 1 || index > count) throw new Error(`image ${index} asked for, the file holds ${count}`);
  if (count > 1)
    opts.onNote?.(`${file}: ${count} images; unpacking image ${index} (--wim-index N for another)`);
  let paths = opts.archivePaths;
  if (!paths) {
    const dir = run("wimlib-imagex", ["dir", file, String(index), "--path=/Windows/System32"], "wim", true);
    paths = dir.ok ? DEFAULT_WIM_PATHS : ["/"];
    if (dir.ok)
      opts.onNote?.(`${file}: unpacking /Windows/System32 only (--archive-path / for the whole image)`);
  }
  run(
    "wimlib-imagex",
    ["extract", file, String(index), ...paths, `--dest-dir=${dest}`, "--no-acls", "--preserve-dir-structure"],
    "wim",
  );
}

function run(command: string, args: string[], kind: ArchiveKind): string;
function run(command: string, args: string[], kind: ArchiveKind, soft: true): { ok: boolean; out: string };
function run(
  command: string,
  args: string[],
  kind: ArchiveKind,
  soft = false,
): string | { ok: boolean; out: string } {
  const r = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT")
    throw new Error(`${command} is not installed (Debian package ${TOOLS[kind].debian})`);
  const ok = r.status === 0;
  if (soft) return { ok, out: r.stdout };
  if (!ok)
    throw new Error(`${command} failed: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" / ")}`);
  return r.stdout;
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function isRegularFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function readHead(p: string): Uint8Array {
  const fd = openSync(p, "r");
  try {
    const buf = new Uint8Array(SNIFF_BYTES);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
