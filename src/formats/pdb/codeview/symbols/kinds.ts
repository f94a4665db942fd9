/** CodeView symbol record kinds (cvinfo.h SYM_ENUM_e) that etw-atlas reads. */
export const SymbolKind = {
  S_END: 0x0006,
  S_OBJNAME: 0x1101,
  S_THUNK32: 0x1102,
  S_BLOCK32: 0x1103,
  S_LABEL32: 0x1105,
  S_CONSTANT: 0x1107,
  S_UDT: 0x1108,
  S_LDATA32: 0x110c,
  S_GDATA32: 0x110d,
  S_PUB32: 0x110e,
  S_LPROC32: 0x110f,
  S_GPROC32: 0x1110,
  S_LTHREAD32: 0x1112,
  S_GTHREAD32: 0x1113,
  S_PROCREF: 0x1125,
  S_DATAREF: 0x1126,
  S_LPROCREF: 0x1127,
  S_ANNOTATIONREF: 0x1128,
  S_TOKENREF: 0x1129,
  S_GMANPROC: 0x112a,
  S_LMANPROC: 0x112b,
  S_SECTION: 0x1136,
  S_COFFGROUP: 0x1137,
  S_COMPILE3: 0x113c,
  S_LPROC32_ID: 0x1146,
  S_GPROC32_ID: 0x1147,
  S_PROC_ID_END: 0x114f,
  S_ANNOTATION: 0x1019,
  S_INLINESITE: 0x114d,
  S_INLINESITE_END: 0x114e,
  S_SEPCODE: 0x1132,
  S_GMANDATA: 0x111d,
  S_LMANDATA: 0x111c,
} as const;

const names = new Map<number, string>(Object.entries(SymbolKind).map(([k, v]) => [v, k]));

/** "S_PUB32" or "0x1234" for kinds not in the table. */
export function symbolKindName(kind: number): string {
  return names.get(kind) ?? `0x${kind.toString(16).padStart(4, "0")}`;
}

/** Records that open a scope closed by S_END (or S_PROC_ID_END); used to attribute nested records to a procedure. */
export const SCOPE_OPENERS: ReadonlySet<number> = new Set([
  SymbolKind.S_GPROC32,
  SymbolKind.S_LPROC32,
  SymbolKind.S_GPROC32_ID,
  SymbolKind.S_LPROC32_ID,
  SymbolKind.S_BLOCK32,
  SymbolKind.S_THUNK32,
  SymbolKind.S_INLINESITE,
  SymbolKind.S_SEPCODE,
  SymbolKind.S_GMANPROC,
  SymbolKind.S_LMANPROC,
]);
