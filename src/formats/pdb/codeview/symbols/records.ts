import { ByteView } from "../../../../util/bytes.js";
import { readName, readNumeric } from "../numeric.js";
import type { RawSymbol } from "./iterator.js";
import { SymbolKind as K } from "./kinds.js";

/** S_PUB32: a public (linker-visible) name at seg:off. */
export interface PublicSym {
  kind: typeof K.S_PUB32;
  /** 1 code, 2 function, 4 managed, 8 MSIL. */
  flags: number;
  offset: number;
  segment: number;
  name: string;
}
/** S_GDATA32 / S_LDATA32 / S_GTHREAD32 / S_LTHREAD32. */
export interface DataSym {
  kind: typeof K.S_GDATA32 | typeof K.S_LDATA32 | typeof K.S_GTHREAD32 | typeof K.S_LTHREAD32;
  typeIndex: number;
  offset: number;
  segment: number;
  name: string;
}
/** S_PROCREF / S_LPROCREF / S_ANNOTATIONREF / S_DATAREF / S_TOKENREF (REFSYM2). */
export interface RefSym {
  kind:
    | typeof K.S_PROCREF
    | typeof K.S_LPROCREF
    | typeof K.S_ANNOTATIONREF
    | typeof K.S_DATAREF
    | typeof K.S_TOKENREF;
  sumName: number;
  /** Offset of the target record in the module stream, counting the 4-byte signature. */
  symOffset: number;
  /** 1-based module index. */
  module: number;
  name: string;
}
export interface ConstantSym {
  kind: typeof K.S_CONSTANT;
  typeIndex: number;
  value: bigint;
  name: string;
}
export interface UdtSym {
  kind: typeof K.S_UDT;
  typeIndex: number;
  name: string;
}
/** S_GPROC32 / S_LPROC32 and their _ID variants (typeIndex is then an IPI id). */
export interface ProcSym {
  kind: typeof K.S_GPROC32 | typeof K.S_LPROC32 | typeof K.S_GPROC32_ID | typeof K.S_LPROC32_ID;
  parent: number;
  end: number;
  next: number;
  length: number;
  debugStart: number;
  debugEnd: number;
  typeIndex: number;
  offset: number;
  segment: number;
  flags: number;
  name: string;
}
/** S_ANNOTATION: `__annotation(...)` strings at a code address (WPP TMF lives here). */
export interface AnnotationSym {
  kind: typeof K.S_ANNOTATION;
  offset: number;
  segment: number;
  strings: string[];
}
export interface CoffGroupSym {
  kind: typeof K.S_COFFGROUP;
  size: number;
  characteristics: number;
  offset: number;
  segment: number;
  name: string;
}
export interface SectionSym {
  kind: typeof K.S_SECTION;
  section: number;
  alignment: number;
  rva: number;
  size: number;
  characteristics: number;
  name: string;
}
export interface ObjNameSym {
  kind: typeof K.S_OBJNAME;
  signature: number;
  name: string;
}
export interface EndSym {
  kind: typeof K.S_END | typeof K.S_PROC_ID_END;
}
export interface OtherSym {
  kind: number;
  other: true;
}

export type CodeViewSymbol =
  | PublicSym
  | DataSym
  | RefSym
  | ConstantSym
  | UdtSym
  | ProcSym
  | AnnotationSym
  | CoffGroupSym
  | SectionSym
  | ObjNameSym
  | EndSym
  | OtherSym;

const utf8 = new TextDecoder("utf-8");

/** Decodes a raw record into a typed symbol; unknown kinds come back as `{kind, other: true}`. */
export function decodeSymbol(raw: RawSymbol): CodeViewSymbol {
  const v = new ByteView(raw.data, "pdb");
  const end = raw.data.length;
  const name = (o: number) => readName(v, o, end).text;
  switch (raw.kind) {
    case K.S_PUB32:
      return { kind: raw.kind, flags: v.u32(0), offset: v.u32(4), segment: v.u16(8), name: name(10) };
    case K.S_GDATA32:
    case K.S_LDATA32:
    case K.S_GTHREAD32:
    case K.S_LTHREAD32:
      return { kind: raw.kind, typeIndex: v.u32(0), offset: v.u32(4), segment: v.u16(8), name: name(10) };
    case K.S_PROCREF:
    case K.S_LPROCREF:
    case K.S_ANNOTATIONREF:
    case K.S_DATAREF:
    case K.S_TOKENREF:
      return { kind: raw.kind, sumName: v.u32(0), symOffset: v.u32(4), module: v.u16(8), name: name(10) };
    case K.S_CONSTANT: {
      const n = readNumeric(v, 4);
      return { kind: raw.kind, typeIndex: v.u32(0), value: n.value, name: name(n.end) };
    }
    case K.S_UDT:
      return { kind: raw.kind, typeIndex: v.u32(0), name: name(4) };
    case K.S_GPROC32:
    case K.S_LPROC32:
    case K.S_GPROC32_ID:
    case K.S_LPROC32_ID:
      return {
        kind: raw.kind,
        parent: v.u32(0),
        end: v.u32(4),
        next: v.u32(8),
        length: v.u32(12),
        debugStart: v.u32(16),
        debugEnd: v.u32(20),
        typeIndex: v.u32(24),
        offset: v.u32(28),
        segment: v.u16(32),
        flags: v.u8(34),
        name: name(35),
      };
    case K.S_ANNOTATION: {
      const count = v.u16(6);
      const strings: string[] = [];
      let o = 8;
      for (let i = 0; i < count; i++) {
        const z = raw.data.indexOf(0, o);
        if (z < 0) {
          // The record ran out before `count` strings: keep what is there rather than guess.
          if (o < end) strings.push(utf8.decode(raw.data.subarray(o, end)));
          break;
        }
        strings.push(utf8.decode(raw.data.subarray(o, z)));
        o = z + 1;
      }
      return { kind: raw.kind, offset: v.u32(0), segment: v.u16(4), strings };
    }
    case K.S_COFFGROUP:
      return {
        kind: raw.kind,
        size: v.u32(0),
        characteristics: v.u32(4),
        offset: v.u32(8),
        segment: v.u16(12),
        name: name(14),
      };
    case K.S_SECTION:
      return {
        kind: raw.kind,
        section: v.u16(0),
        alignment: v.u8(2),
        rva: v.u32(4),
        size: v.u32(8),
        characteristics: v.u32(12),
        name: name(16),
      };
    case K.S_OBJNAME:
      return { kind: raw.kind, signature: v.u32(0), name: name(4) };
    case K.S_END:
    case K.S_PROC_ID_END:
      return { kind: raw.kind };
    default:
      return { kind: raw.kind, other: true };
  }
}

export function isProc(s: CodeViewSymbol): s is ProcSym {
  return (
    s.kind === K.S_GPROC32 || s.kind === K.S_LPROC32 || s.kind === K.S_GPROC32_ID || s.kind === K.S_LPROC32_ID
  );
}
export function isData(s: CodeViewSymbol): s is DataSym {
  return (
    s.kind === K.S_GDATA32 || s.kind === K.S_LDATA32 || s.kind === K.S_GTHREAD32 || s.kind === K.S_LTHREAD32
  );
}
