import { constants, inflateRawSync } from "node:zlib";
import { ByteView } from "../util/bytes.js";
import { FormatError } from "../util/errors.js";

/**
 * Microsoft Cabinet (MS-CAB) reader for symbol-store `.pd_`/`.dl_` files: CFHEADER, CFFOLDER,
 * CFFILE and CFDATA records, with "stored" and MSZIP folders. MSZIP = per CFDATA block the bytes
 * "CK" and a raw deflate stream whose window is primed with the previous block's output (at most
 * 32 KB per block). LZX and Quantum folders are reported, not decoded (SymStore uses MSZIP).
 */

const F = "cab";
const FLAG_PREV_CABINET = 0x1;
const FLAG_NEXT_CABINET = 0x2;
const FLAG_RESERVE_PRESENT = 0x4;
/** Largest uncompressed CFDATA block the format allows. */
export const CAB_BLOCK_SIZE = 0x8000;
const COMPRESSION_NAMES = ["none", "MSZIP", "Quantum", "LZX"];

export interface CabFolder {
  /** Offset of its first CFDATA record. */
  dataOffset: number;
  blockCount: number;
  /** Low 4 bits of typeCompress: 0 none, 1 MSZIP, 2 Quantum, 3 LZX. */
  compression: number;
}

export interface CabFile {
  name: string;
  size: number;
  /** Offset of the file in its folder's uncompressed stream. */
  folderOffset: number;
  folder: number;
  attributes: number;
}

export interface Cabinet {
  bytes: Uint8Array;
  totalSize: number;
  folders: CabFolder[];
  files: CabFile[];
  /** Per-CFDATA reserved bytes (from the header's reserve sizes). */
  dataReserve: number;
}

export function looksLikeCab(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 36 && bytes[0] === 0x4d && bytes[1] === 0x53 && bytes[2] === 0x43 && bytes[3] === 0x46
  );
}

/** Parses the cabinet's header, folder and file tables (no decompression). */
export function parseCabinet(bytes: Uint8Array): Cabinet {
  const v = new ByteView(bytes, F);
  if (!looksLikeCab(bytes)) throw new FormatError(F, 'missing "MSCF" signature', 0);
  const totalSize = v.u32(8);
  if (totalSize > bytes.length)
    throw new FormatError(
      F,
      `header says ${totalSize} bytes but the file has ${bytes.length} (truncated?)`,
      8,
    );
  const filesOffset = v.u32(16);
  const major = v.u8(25);
  if (major !== 1) throw new FormatError(F, `unsupported cabinet version ${major}.${v.u8(24)}`, 24);
  const folderCount = v.u16(26);
  const fileCount = v.u16(28);
  const flags = v.u16(30);
  if (flags & (FLAG_PREV_CABINET | FLAG_NEXT_CABINET))
    throw new FormatError(F, "multi-cabinet sets (spanning files) are not supported", 30);
  let pos = 36;
  let headerReserve = 0;
  let folderReserve = 0;
  let dataReserve = 0;
  if (flags & FLAG_RESERVE_PRESENT) {
    headerReserve = v.u16(36);
    folderReserve = v.u8(38);
    dataReserve = v.u8(39);
    pos = 40 + headerReserve;
  }
  const folders: CabFolder[] = [];
  for (let i = 0; i < folderCount; i++) {
    v.check(pos, 8 + folderReserve, "CFFOLDER");
    folders.push({ dataOffset: v.u32(pos), blockCount: v.u16(pos + 4), compression: v.u16(pos + 6) & 0xf });
    pos += 8 + folderReserve;
  }
  const files: CabFile[] = [];
  pos = filesOffset;
  for (let i = 0; i < fileCount; i++) {
    const size = v.u32(pos);
    const folderOffset = v.u32(pos + 4);
    const folder = v.u16(pos + 8);
    const attributes = v.u16(pos + 14);
    const nameEnd = v.cstrEnd(pos + 16, 1024);
    // Attribute 0x80 (_A_NAME_IS_UTF) marks UTF-8 names; others are in the OEM code page.
    const name = attributes & 0x80 ? v.utf8z(pos + 16, 1024) : v.cstr(pos + 16, 1024);
    if (folder >= folderCount)
      throw new FormatError(
        F,
        folder >= 0xfffd
          ? `file "${name}" continues across cabinets (not supported)`
          : `file "${name}" names folder ${folder} of ${folderCount}`,
        pos + 8,
      );
    files.push({ name, size, folderOffset, folder, attributes });
    pos = nameEnd + 1;
  }
  return { bytes, totalSize, folders, files, dataReserve };
}

/** MS-CAB checksum (XOR of little-endian u32s; the 1–3 tail bytes folded in high-to-low order). */
export function cabChecksum(data: Uint8Array, seed: number): number {
  let sum = seed >>> 0;
  const whole = data.length & ~3;
  for (let i = 0; i < whole; i += 4) {
    sum ^= (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) >>> 0;
  }
  // Tail bytes: the first remaining byte lands highest (bits 16/8/0 for 3 bytes).
  let tail = 0;
  for (let i = whole; i < data.length; i++) tail = (tail << 8) | data[i]!;
  return (sum ^ tail) >>> 0;
}

/**
 * Decompresses one folder into a single buffer: all its blocks, or only as many as it takes to
 * reach `need` bytes. More than `maxSize` bytes is an error (the budget left for this cabinet).
 */
export function decodeFolder(
  cab: Cabinet,
  index: number,
  maxSize = 1 << 30,
  need = Number.POSITIVE_INFINITY,
): Uint8Array {
  const folder = cab.folders[index];
  if (!folder) throw new FormatError(F, `no folder ${index}`);
  if (folder.compression !== 0 && folder.compression !== 1)
    throw new FormatError(
      F,
      `folder ${index} uses ${COMPRESSION_NAMES[folder.compression] ?? `compression type ${folder.compression}`}; only stored and MSZIP are supported`,
    );
  const v = new ByteView(cab.bytes, F);
  // One buffer, filled in place (a block list plus a final copy doubled the peak); every block
  // is at most CAB_BLOCK_SIZE, so this is the folder's largest possible size.
  const capacity = Math.min(folder.blockCount * CAB_BLOCK_SIZE, maxSize, need + CAB_BLOCK_SIZE);
  const result = new Uint8Array(Math.max(0, capacity));
  let total = 0;
  let pos = folder.dataOffset;
  let window: Uint8Array = new Uint8Array(0);
  for (let b = 0; b < folder.blockCount && total < need; b++) {
    const checksum = v.u32(pos);
    const packed = v.u16(pos + 4);
    const unpacked = v.u16(pos + 6);
    const dataStart = pos + 8 + cab.dataReserve;
    const data = v.slice(dataStart, packed, `CFDATA block ${b} of folder ${index}`);
    if (unpacked > CAB_BLOCK_SIZE)
      throw new FormatError(
        F,
        `CFDATA block ${b} claims ${unpacked} uncompressed bytes (max ${CAB_BLOCK_SIZE})`,
        pos + 6,
      );
    if (checksum !== 0) {
      const expect = cabChecksum(cab.bytes.subarray(pos + 4, pos + 8), cabChecksum(data, 0));
      if (expect !== checksum)
        throw new FormatError(
          F,
          `CFDATA block ${b} checksum mismatch (stored 0x${checksum.toString(16)}, computed 0x${expect.toString(16)})`,
          pos,
        );
    }
    if (total + unpacked > maxSize)
      throw new FormatError(
        F,
        `folder ${index} exceeds the ${maxSize} bytes left of the cabinet's decoding limit (folders may share data blocks)`,
        pos,
      );
    let out: Uint8Array;
    if (folder.compression === 0) {
      if (packed !== unpacked)
        throw new FormatError(F, `stored block ${b} has ${packed} bytes but claims ${unpacked}`, pos + 4);
      out = data;
    } else {
      out = inflateMszipBlock(data, window, pos, b);
      if (out.length !== unpacked)
        throw new FormatError(
          F,
          `MSZIP block ${b} inflated to ${out.length} bytes, header says ${unpacked}`,
          pos,
        );
    }
    result.set(out, total);
    total += out.length;
    window = out.length >= CAB_BLOCK_SIZE ? out : lastBytes(window, out);
    pos = dataStart + packed;
  }
  return result.subarray(0, total);
}

/** The last 32 KB of (previous window + new output): the deflate history for the next block. */
function lastBytes(prev: Uint8Array, next: Uint8Array): Uint8Array {
  const keep = Math.min(prev.length, CAB_BLOCK_SIZE - next.length);
  const w = new Uint8Array(keep + next.length);
  w.set(prev.subarray(prev.length - keep), 0);
  w.set(next, keep);
  return w;
}

function inflateMszipBlock(data: Uint8Array, window: Uint8Array, pos: number, b: number): Uint8Array {
  if (data.length < 2 || data[0] !== 0x43 || data[1] !== 0x4b)
    throw new FormatError(F, `MSZIP block ${b} does not start with "CK"`, pos + 8);
  try {
    return inflateRawSync(data.subarray(2), {
      ...(window.length ? { dictionary: window } : {}),
      // A block may end on a sync flush instead of a final deflate block.
      finishFlush: constants.Z_SYNC_FLUSH,
      maxOutputLength: CAB_BLOCK_SIZE,
    });
  } catch (err) {
    throw new FormatError(F, `MSZIP block ${b}: ${(err as Error).message}`, pos + 8);
  }
}

/**
 * Extracts the cabinet's files (those `wanted` accepts; all by default). `maxSize` bounds the
 * bytes decoded in total, across folders: folders may share one CFDATA run, so a small cabinet
 * can name many folders that each inflate to the per-folder limit. A folder is decoded only as far
 * as its files reach.
 */
export function extractCabinet(
  bytes: Uint8Array,
  maxSize = 1 << 30,
  wanted: (f: CabFile) => boolean = () => true,
): Array<{ name: string; data: Uint8Array }> {
  const cab = parseCabinet(bytes);
  const files = cab.files.filter(wanted);
  const reach = new Map<number, number>();
  for (const f of files) reach.set(f.folder, Math.max(reach.get(f.folder) ?? 0, f.folderOffset + f.size));
  const decoded = new Map<number, Uint8Array>();
  let used = 0;
  for (const [index, need] of [...reach].sort((a, b) => a[0] - b[0])) {
    const folder = decodeFolder(cab, index, maxSize - used, need);
    used += folder.length;
    decoded.set(index, folder);
  }
  return files.map((f) => {
    const folder = decoded.get(f.folder)!;
    if (f.folderOffset + f.size > folder.length)
      throw new FormatError(
        F,
        `file "${f.name}" (${f.size} bytes at ${f.folderOffset}) runs past its folder's ${folder.length} bytes`,
      );
    return { name: f.name, data: folder.subarray(f.folderOffset, f.folderOffset + f.size) };
  });
}

/**
 * The single file of a symbol-store compressed file (`name.pd_`). When `expectedName` is given and
 * the cabinet holds several files, the one with that name (case-insensitive) is returned.
 */
export function expandCompressedSymbolFile(
  bytes: Uint8Array,
  expectedName?: string,
  maxSize?: number,
): Uint8Array {
  const cab = parseCabinet(bytes);
  if (cab.files.length === 0) throw new FormatError(F, "cabinet holds no files");
  if (cab.files.length === 1) return extractCabinet(bytes, maxSize)[0]!.data;
  const want = expectedName?.toLowerCase();
  const hit = extractCabinet(bytes, maxSize, (f) => f.name.toLowerCase() === want)[0];
  if (!hit)
    throw new FormatError(F, `cabinet holds ${cab.files.length} files, none named "${expectedName ?? "?"}"`);
  return hit.data;
}
