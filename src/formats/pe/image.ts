import { ByteView } from "../../util/bytes.js";
import { FormatError } from "../../util/errors.js";
import {
  type DataDirectory,
  DIRECTORY_NAMES,
  type PeHeaders,
  parseHeaders,
  type Section,
} from "./headers.js";

/**
 * A parsed PE image: headers plus RVA-based, bounds-checked access to the file bytes.
 * Directory readers (imports, exports, resources, ...) take a PeImage and return plain data.
 */
export class PeImage {
  readonly view: ByteView;
  readonly headers: PeHeaders;

  constructor(readonly bytes: Uint8Array) {
    this.view = new ByteView(bytes, "pe");
    this.headers = parseHeaders(this.view);
    const spans = this.headers.sections
      .map((s) => [s.virtualAddress, s.virtualAddress + Math.max(s.virtualSize, s.rawSize)] as const)
      .sort((a, b) => a[0] - b[0]);
    this.sectionsOverlap = spans.some((s, i) => i > 0 && s[0] < spans[i - 1]![1]);
    const base = this.headers.imageBase;
    this.imageBaseNumber = base < 1n << 53n ? Number(base) : undefined;
  }

  get sections(): Section[] {
    return this.headers.sections;
  }
  get is64(): boolean {
    return this.headers.pe32plus;
  }
  get imageBase(): bigint {
    return this.headers.imageBase;
  }

  directory(name: (typeof DIRECTORY_NAMES)[number]): DataDirectory | undefined {
    const d = this.headers.directories[DIRECTORY_NAMES.indexOf(name)];
    return d && d.rva !== 0 && d.size !== 0 ? d : undefined;
  }

  /** Last section found by sectionOfRva: lookups come in runs within one section. */
  private lastSection: Section | undefined;
  private readonly sectionsOverlap: boolean;

  /** The section containing an RVA (by virtual extent), if any. */
  sectionOfRva(rva: number): Section | undefined {
    const last = this.lastSection;
    if (
      last &&
      rva >= last.virtualAddress &&
      rva < last.virtualAddress + Math.max(last.virtualSize, last.rawSize)
    )
      return last;
    for (const s of this.headers.sections) {
      const size = Math.max(s.virtualSize, s.rawSize);
      if (rva >= s.virtualAddress && rva < s.virtualAddress + size) {
        if (!this.sectionsOverlap) this.lastSection = s;
        return s;
      }
    }
    return undefined;
  }

  /** File offset for an RVA, or undefined where the RVA has no bytes in the file (e.g. .bss). */
  rvaToOffset(rva: number): number | undefined {
    if (rva < this.headers.sizeOfHeaders && rva < this.bytes.length) return rva;
    const s = this.sectionOfRva(rva);
    if (!s) return undefined;
    const delta = rva - s.virtualAddress;
    if (delta >= s.rawSize) return undefined;
    const off = s.rawOffset + delta;
    return off < this.bytes.length ? off : undefined;
  }

  offsetToRva(offset: number): number | undefined {
    for (const s of this.headers.sections) {
      if (offset >= s.rawOffset && offset < s.rawOffset + s.rawSize)
        return s.virtualAddress + (offset - s.rawOffset);
    }
    return offset < this.headers.sizeOfHeaders ? offset : undefined;
  }

  /** File offset for an RVA, throwing a FormatError naming `what` when unmapped. */
  offsetOf(rva: number, what: string): number {
    const off = this.rvaToOffset(rva);
    if (off === undefined)
      throw new FormatError("pe", `${what}: RVA 0x${rva.toString(16)} is not backed by file data`);
    return off;
  }

  /** `size` bytes at an RVA (must lie within one section's raw data). */
  bytesAt(rva: number, size: number, what = "data"): Uint8Array {
    const off = this.offsetOf(rva, what);
    return this.view.slice(off, size, what);
  }

  /** Raw file bytes of a section (its on-disk part). */
  sectionBytes(s: Section): Uint8Array {
    const start = Math.min(s.rawOffset, this.bytes.length);
    const end = Math.min(s.rawOffset + s.rawSize, this.bytes.length);
    return this.bytes.subarray(start, end);
  }

  u32At(rva: number): number {
    return this.view.u32(this.offsetOf(rva, "u32"));
  }
  u64At(rva: number): bigint {
    return this.view.u64(this.offsetOf(rva, "u64"));
  }
  /**
   * The RVA that the 8-byte pointer stored at `rva` holds (its VA less the image base), undefined
   * when the slot has no file bytes or points outside the image. Same answer as
   * `vaToRva(u64At(rva))` without BigInts: analyses ask it for every slot of a data section.
   */
  pointerRvaAt(rva: number): number | undefined {
    const off = this.rvaToOffset(rva);
    if (off === undefined || off + 8 > this.bytes.length) return undefined;
    const b = this.bytes;
    const lo = (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
    const hi = (b[off + 4]! | (b[off + 5]! << 8) | (b[off + 6]! << 16) | (b[off + 7]! << 24)) >>> 0;
    const base = this.imageBaseNumber;
    // Doubles hold both exactly below 2^53; past that, the exact BigInt path.
    if (base === undefined || hi >= 0x200000) return this.vaToRva((BigInt(hi) << 32n) | BigInt(lo));
    const d = hi * 0x100000000 + lo - base;
    return d >= 0 && d < this.headers.sizeOfImage ? d : undefined;
  }
  private readonly imageBaseNumber: number | undefined;

  /** Virtual address to RVA (for pointers stored in the image). */
  vaToRva(va: bigint): number | undefined {
    const d = va - this.headers.imageBase;
    if (d < 0n || d >= BigInt(this.headers.sizeOfImage)) return undefined;
    return Number(d);
  }
  cstrAt(rva: number, max = 4096): string {
    return this.view.cstr(this.offsetOf(rva, "string"), max);
  }
}

export function parsePe(bytes: Uint8Array): PeImage {
  return new PeImage(bytes);
}

/** Quick content check used by scanners: MZ + PE signature. */
export function looksLikePe(bytes: Uint8Array): boolean {
  if (bytes.length < 64 || bytes[0] !== 0x4d || bytes[1] !== 0x5a) return false;
  const off = bytes[0x3c]! | (bytes[0x3d]! << 8) | (bytes[0x3e]! << 16) | (bytes[0x3f]! << 24);
  return (
    off >= 0 &&
    off + 4 <= bytes.length &&
    bytes[off] === 0x50 &&
    bytes[off + 1] === 0x45 &&
    bytes[off + 2] === 0 &&
    bytes[off + 3] === 0
  );
}
