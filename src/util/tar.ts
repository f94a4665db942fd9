/**
 * A small reader for (ustar/GNU/pax) tar archives, enough to take files out of an npm package
 * tarball (`npm pack` output, gzip already removed). Pure: bytes in, entries out.
 *
 * Handled: regular files ('0' and NUL), directories, ustar `prefix`, GNU long names ('L') and
 * pax `path`/`size` records ('x'); other entry types are listed with their type and skipped.
 */
import { FormatError } from "./errors.js";

export interface TarEntry {
  /** Path inside the archive, '/'-separated. */
  name: string;
  /** '0' regular file, '5' directory, other tar type flags as found. */
  type: string;
  data: Uint8Array;
}

const BLOCK = 512;

function text(bytes: Uint8Array, start: number, length: number): string {
  const field = bytes.subarray(start, start + length);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end < 0 ? field : field.subarray(0, end));
}

function octal(bytes: Uint8Array, start: number, length: number, what: string, at: number): number {
  // GNU base-256 encoding (high bit set) for sizes of 8 GiB and more: far beyond anything we read.
  if ((bytes[start]! & 0x80) !== 0)
    throw new FormatError("tar", `${what} uses base-256 encoding`, at + start);
  const s = text(bytes, start, length).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s))
    throw new FormatError("tar", `${what} is not an octal number: ${JSON.stringify(s)}`, at + start);
  return Number.parseInt(s, 8);
}

/** pax extended header records: "<len> key=value\n" ... */
function paxRecords(data: Uint8Array, at: number): Map<string, string> {
  const out = new Map<string, string>();
  const s = new TextDecoder().decode(data);
  let i = 0;
  while (i < s.length) {
    const sp = s.indexOf(" ", i);
    const len = Number.parseInt(s.slice(i, sp), 10);
    if (sp < 0 || !Number.isInteger(len) || len <= 0 || i + len > s.length)
      throw new FormatError("tar", "malformed pax record", at);
    const rec = s.slice(sp + 1, i + len - 1);
    const eq = rec.indexOf("=");
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

function checksumOk(h: Uint8Array, at: number): boolean {
  const stored = octal(h, 148, 8, "header checksum", at);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum === stored;
}

export function readTar(bytes: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  let pos = 0;
  let longName: string | undefined;
  let pax = new Map<string, string>();
  while (pos < bytes.length) {
    if (pos + BLOCK > bytes.length) throw new FormatError("tar", "archive ends inside an entry header", pos);
    const h = bytes.subarray(pos, pos + BLOCK);
    if (h.every((b) => b === 0)) break; // end-of-archive marker
    if (!checksumOk(h, pos)) throw new FormatError("tar", "header checksum mismatch", pos);
    const type = String.fromCharCode(h[156]!) === "\0" ? "0" : String.fromCharCode(h[156]!);
    let size = octal(h, 124, 12, "entry size", pos);
    const paxSize = pax.get("size");
    if (paxSize !== undefined && /^\d+$/.test(paxSize)) size = Number(paxSize);
    const dataStart = pos + BLOCK;
    if (dataStart + size > bytes.length)
      throw new FormatError("tar", `entry of ${size} bytes runs past the end of the archive`, pos);
    const data = bytes.subarray(dataStart, dataStart + size);
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "L") {
      longName = text(data, 0, data.length);
      continue;
    }
    if (type === "x") {
      pax = paxRecords(data, dataStart);
      continue;
    }
    if (type === "g") continue; // global pax header: nothing we use
    const magic = text(h, 257, 6);
    const prefix = magic.startsWith("ustar") ? text(h, 345, 155) : "";
    const base = text(h, 0, 100);
    const name = pax.get("path") ?? longName ?? (prefix ? `${prefix}/${base}` : base);
    entries.push({ name, type, data });
    longName = undefined;
    pax = new Map();
  }
  return entries;
}

/** True when an archive path is safe to write below a directory (relative, no `..`). */
export function isSafeArchivePath(name: string): boolean {
  if (name.startsWith("/") || /^[a-zA-Z]:/.test(name) || name.includes("\\")) return false;
  return name.split("/").every((part) => part !== ".." && part !== "");
}
