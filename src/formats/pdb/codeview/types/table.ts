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
      case L.LF_UNION: {
        const def = this.resolveForwardRef(typeIndex);
        if (def !== typeIndex) return this.typeSize(def, depth + 1);
        return Number(readNumeric(v, r.kind === L.LF_UNION ? 8 : 16).value);
      }
      case L.LF_ENUM:
        return this.typeSize(v.u32(4), depth + 1);
      default:
        return undefined;
    }
  }

  /** Name, property bits and (optional) unique name of a struct/class/union/enum record. */
  private udtInfo(
    r: RawType,
  ): { name: string; property: number; uniqueName?: string; fieldList: number } | undefined {
    const v = new ByteView(r.data, "pdb");
    const end = r.data.length;
    let nameAt: number;
    let fieldList: number;
    switch (r.kind) {
      case L.LF_CLASS:
      case L.LF_STRUCTURE:
      case L.LF_INTERFACE:
        nameAt = readNumeric(v, 16).end;
        fieldList = v.u32(4);
        break;
      case L.LF_UNION:
        nameAt = readNumeric(v, 8).end;
        fieldList = v.u32(4);
        break;
      case L.LF_ENUM:
        nameAt = 12;
        fieldList = v.u32(8);
        break;
      default:
        return undefined;
    }
    const property = v.u16(2);
    const name = readName(v, nameAt, end);
    // Property bit 9 (hasuniquename): a decorated unique name follows the display name.
    const uniqueName = property & 0x200 ? readName(v, name.end, end).text : undefined;
    return { name: name.text, property, fieldList, ...(uniqueName ? { uniqueName } : {}) };
  }

  private definitions?: Map<string, number>;

  /**
   * For a forward reference (property bit 7) to a struct/class/union/enum, the type index of its
   * definition, found by unique name (else name) and kind; otherwise the index itself.
   */
  resolveForwardRef(typeIndex: number): number {
    const r = this.record(typeIndex);
    if (!r) return typeIndex;
    let info: ReturnType<TypeTable["udtInfo"]>;
    try {
      info = this.udtInfo(r);
    } catch (e) {
      if (e instanceof FormatError) return typeIndex;
      throw e;
    }
    if (!info || !(info.property & 0x80)) return typeIndex;
    if (!this.definitions) {
      this.definitions = new Map();
      for (const t of this.all()) {
        try {
          const d = this.udtInfo(t);
          if (!d || d.property & 0x80) continue;
          const key = `${t.kind}:${d.uniqueName ?? d.name}`;
          if (!this.definitions.has(key)) this.definitions.set(key, t.typeIndex);
        } catch (e) {
          if (!(e instanceof FormatError)) throw e;
        }
      }
    }
    return this.definitions.get(`${r.kind}:${info.uniqueName ?? info.name}`) ?? typeIndex;
  }

  /**
   * Data members (LF_MEMBER) of a struct/class/union (or a const/volatile one), after resolving a
   * forward reference.
   * Stops at the first field-list leaf it cannot size; static members, methods and nested
   * types are skipped.
   */
  members(typeIndex: number): { name: string; offset: number; typeIndex: number }[] {
    // A const/volatile struct: look through the modifier (a few levels at most).
    let ti = typeIndex;
    for (let i = 0; i < 4; i++) {
      const r = this.record(ti);
      if (r?.kind !== L.LF_MODIFIER) break;
      ti = new ByteView(r.data, "pdb").u32(0);
    }
    const def = this.record(this.resolveForwardRef(ti));
    const info = def && this.udtInfo(def);
    if (!info || def.kind === L.LF_ENUM) return [];
    const out: { name: string; offset: number; typeIndex: number }[] = [];
    const seen = new Set<number>();
    let listIndex = info.fieldList;
    while (listIndex >= this.firstIndex && !seen.has(listIndex)) {
      seen.add(listIndex); // LF_INDEX continuations must not loop
      const list = this.record(listIndex);
      if (!list || list.kind !== L.LF_FIELDLIST) break;
      listIndex = 0;
      const v = new ByteView(list.data, "pdb");
      const end = list.data.length;
      let o = 0;
      while (o + 2 <= end) {
        if (v.u8(o) >= 0xf0) {
          o++; // LF_PAD0..15 alignment bytes between leaves
          continue;
        }
        const leaf = v.u16(o);
        if (leaf === L.LF_MEMBER) {
          const off = readNumeric(v, o + 8);
          const name = readName(v, off.end, end);
          out.push({ name: name.text, offset: Number(off.value), typeIndex: v.u32(o + 4) });
          o = name.end;
        } else if (leaf === L.LF_INDEX) {
          listIndex = v.u32(o + 4);
          break;
        } else if (leaf === L.LF_STMEMBER || leaf === L.LF_NESTTYPE) {
          o = readName(v, o + 8, end).end;
        } else if (leaf === L.LF_ONEMETHOD) {
          // Introducing virtuals (method property 4 or 6) carry a vtable offset before the name.
          const mprop = (v.u16(o + 2) >> 2) & 7;
          o = readName(v, o + (mprop === 4 || mprop === 6 ? 12 : 8), end).end;
        } else if (leaf === L.LF_METHOD) {
          o = readName(v, o + 8, end).end;
        } else if (leaf === L.LF_BCLASS) {
          o = readNumeric(v, o + 8).end;
        } else if (leaf === L.LF_VFUNCTAB) {
          o += 8;
        } else break;
      }
    }
    return out;
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
