import { ByteView } from "../../../../util/bytes.js";
import { FormatError } from "../../../../util/errors.js";
import { readName, readNumeric } from "../numeric.js";
import { LeafKind as L, PRIMITIVE_NAMES, PRIMITIVE_SIZES } from "./kinds.js";

/** One raw type record: `u16 len; u16 leaf; payload`. */
export interface RawType {
  typeIndex: number;
  kind: number;
  data: Uint8Array;
}

const MAX_DEPTH = 24;

/**
 * The type records of a TPI (or IPI) stream, indexed by type index. Record offsets come from a
 * single linear scan (the hash stream's index is only an accelerator). Type names are built
 * from the leaves a global's type usually needs: modifiers, pointers, arrays, UDTs and enums.
 */
export class TypeTable {
  private readonly offsets: number[] = [];
  private readonly view: ByteView;
  private readonly names = new Map<number, string>();

  constructor(
    private readonly records: Uint8Array,
    readonly firstIndex: number,
  ) {
    this.view = new ByteView(records, "pdb");
    let o = 0;
    while (o + 4 <= records.length) {
      const len = this.view.u16(o);
      if (len < 2) throw new FormatError("pdb", `type record length ${len} is too small`, o);
      if (o + 2 + len > records.length)
        throw new FormatError("pdb", `type record of ${len} bytes runs past the TPI stream`, o);
      this.offsets.push(o);
      o += 2 + len;
    }
  }

  get count(): number {
    return this.offsets.length;
  }
  get endIndex(): number {
    return this.firstIndex + this.offsets.length;
  }

  record(typeIndex: number): RawType | undefined {
    const o = this.offsets[typeIndex - this.firstIndex];
    if (o === undefined) return undefined;
    const len = this.view.u16(o);
    return { typeIndex, kind: this.view.u16(o + 2), data: this.records.subarray(o + 4, o + 2 + len) };
  }

  *all(): Generator<RawType> {
    for (let i = 0; i < this.offsets.length; i++) yield this.record(this.firstIndex + i)!;
  }

  /** A C-like name for a type index, e.g. "const _EVENT_DESCRIPTOR", "_GUID", "unsigned char[16]". */
  typeName(typeIndex: number): string {
    const cached = this.names.get(typeIndex);
    if (cached !== undefined) return cached;
    let name: string;
    try {
      name = this.nameOf(typeIndex, 0);
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      name = `<bad type 0x${typeIndex.toString(16)}>`;
    }
    this.names.set(typeIndex, name);
    return name;
  }

  /** Byte size of a type, where the records say (undefined for unknown/unsized types). */
  typeSize(typeIndex: number, depth = 0): number | undefined {
    if (depth > MAX_DEPTH) return undefined;
    if (typeIndex < 0x1000) {
      const mode = (typeIndex >> 8) & 0xf;
      if (mode === 4) return 4;
      if (mode === 6) return 8;
      return PRIMITIVE_SIZES[typeIndex & 0xff];
    }
    const r = this.record(typeIndex);
    if (!r) return undefined;
    const v = new ByteView(r.data, "pdb");
    switch (r.kind) {
      case L.LF_MODIFIER:
        return this.typeSize(v.u32(0), depth + 1);
      case L.LF_POINTER:
        return (v.u32(4) >> 13) & 0x3f || undefined;
      case L.LF_ARRAY:
        return Number(readNumeric(v, 8).value);
      case L.LF_CLASS:
      case L.LF_STRUCTURE:
      case L.LF_INTERFACE:
        return Number(readNumeric(v, 16).value);
      case L.LF_UNION:
        return Number(readNumeric(v, 8).value);
      case L.LF_ENUM:
        return this.typeSize(v.u32(4), depth + 1);
      default:
        return undefined;
    }
  }

  private isPointer(ti: number): boolean {
    if (ti < 0x1000) return ((ti >> 8) & 0xf) !== 0;
    return this.record(ti)?.kind === L.LF_POINTER;
  }

  private nameOf(ti: number, depth: number): string {
    if (depth > MAX_DEPTH) return "<too deep>";
    if (ti < 0x1000) {
      const base = PRIMITIVE_NAMES[ti & 0xff] ?? `<primitive 0x${(ti & 0xff).toString(16)}>`;
      return (ti >> 8) & 0xf ? `${base}*` : base;
    }
    const r = this.record(ti);
    if (!r) return `<type 0x${ti.toString(16)}>`;
    const v = new ByteView(r.data, "pdb");
    const end = r.data.length;
    switch (r.kind) {
      case L.LF_MODIFIER: {
        const attrs = v.u16(4);
        const quals = [attrs & 1 ? "const" : "", attrs & 2 ? "volatile" : "", attrs & 4 ? "__unaligned" : ""]
          .filter(Boolean)
          .join(" ");
        const innerIndex = v.u32(0);
        const inner = this.nameOf(innerIndex, depth + 1);
        if (!quals) return inner;
        // A qualified pointer reads "T* const" (the pointer is const), a qualified value "const T".
        return this.isPointer(innerIndex) ? `${inner} ${quals}` : `${quals} ${inner}`;
      }
      case L.LF_POINTER: {
        const attrs = v.u32(4);
        const mode = (attrs >> 5) & 7;
        const suffix = mode === 1 ? "&" : mode === 4 ? "&&" : "*";
        // Qualifiers of the pointer itself live in its attributes (bit 9 volatile, bit 10 const).
        const quals = `${attrs & 0x400 ? " const" : ""}${attrs & 0x200 ? " volatile" : ""}`;
        return `${this.nameOf(v.u32(0), depth + 1)}${suffix}${quals}`;
      }
      case L.LF_ARRAY: {
        const elem = v.u32(0);
        const total = Number(readNumeric(v, 8).value);
        const elemSize = this.typeSize(elem);
        const count = elemSize ? total / elemSize : undefined;
        return `${this.nameOf(elem, depth + 1)}[${count !== undefined && Number.isInteger(count) ? count : ""}]`;
      }
      case L.LF_CLASS:
      case L.LF_STRUCTURE:
      case L.LF_INTERFACE:
        return readName(v, readNumeric(v, 16).end, end).text;
      case L.LF_UNION:
        return readName(v, readNumeric(v, 8).end, end).text;
      case L.LF_ENUM:
        return readName(v, 12, end).text;
      case L.LF_PROCEDURE:
      case L.LF_MFUNCTION:
        return "<function>";
      default:
        return `<leaf 0x${r.kind.toString(16)}>`;
    }
  }
}
