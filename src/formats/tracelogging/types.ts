/**
 * TraceLogging type numbering (TraceLoggingProvider.h `TlgIn_t` / `TlgOut_t`, identical in
 * TraceLoggingDynamic.h). In-type numbers equal TDH in-type numbers 0–25; out-type numbers 1–18 are
 * TraceLogging-specific, 32 and up equal TDH out-type numbers.
 */

/** In-type flag bits (the low 5 bits are the type). */
export const IN_TYPE_MASK = 0x1f;
export const IN_CCOUNT = 0x20;
export const IN_VCOUNT = 0x40;
export const IN_CUSTOM = 0x60;
export const IN_CHAIN = 0x80;
export const OUT_TYPE_MASK = 0x7f;
export const OUT_CHAIN = 0x80;
export const IN_STRUCT = 24;

/** SDK names of TlgIn_t values (what other TraceLogging dumpers print). */
export const TLG_IN_NAMES: readonly string[] = [
  "NULL",
  "UNICODESTRING",
  "ANSISTRING",
  "INT8",
  "UINT8",
  "INT16",
  "UINT16",
  "INT32",
  "UINT32",
  "INT64",
  "UINT64",
  "FLOAT",
  "DOUBLE",
  "BOOL32",
  "BINARY",
  "GUID",
  "POINTER",
  "FILETIME",
  "SYSTEMTIME",
  "SID",
  "HEXINT32",
  "HEXINT64",
  "COUNTEDSTRING",
  "COUNTEDANSISTRING",
  "STRUCT",
  "COUNTEDBINARY",
];

/** SDK names of TlgOut_t values. */
export const TLG_OUT_NAMES: Readonly<Record<number, string>> = {
  0: "NULL",
  1: "NOPRINT",
  2: "STRING",
  3: "BOOLEAN",
  4: "HEX",
  5: "PID",
  6: "TID",
  7: "PORT",
  8: "IPV4",
  9: "IPV6",
  10: "SOCKETADDRESS",
  11: "XML",
  12: "JSON",
  13: "WIN32ERROR",
  14: "NTSTATUS",
  15: "HRESULT",
  16: "FILETIME",
  17: "SIGNED",
  18: "UNSIGNED",
  33: "DATETIME_CULTURE_INSENSITIVE",
  35: "UTF8",
  36: "PKCS7_WITH_TYPE_INFO",
  37: "CODE_POINTER",
  38: "DATETIME_UTC",
};

export function tlgInName(inType: number): string {
  return TLG_IN_NAMES[inType & IN_TYPE_MASK] ?? `IN_${inType & IN_TYPE_MASK}`;
}

export function tlgOutName(outType: number): string {
  return TLG_OUT_NAMES[outType] ?? `OUT_${outType}`;
}

/** Byte width of fixed-size integer in-types (for HEX/SIGNED/UNSIGNED out-types). */
const IN_WIDTH: Readonly<Record<number, number>> = {
  3: 1,
  4: 1,
  5: 2,
  6: 2,
  7: 4,
  8: 4,
  9: 8,
  10: 8,
  13: 4,
  20: 4,
  21: 8,
};

/** TDH out-type numbers (used by manifests), by name, for the TraceLogging-specific ones. */
const TDH_OUT = {
  STRING: 1,
  DATETIME: 2,
  BYTE: 3,
  UNSIGNEDBYTE: 4,
  SHORT: 5,
  UNSIGNEDSHORT: 6,
  INT: 7,
  UNSIGNEDINT: 8,
  LONG: 9,
  UNSIGNEDLONG: 10,
  BOOLEAN: 13,
  HEXBINARY: 15,
  HEXINT8: 16,
  HEXINT16: 17,
  HEXINT32: 18,
  HEXINT64: 19,
  PID: 20,
  TID: 21,
  PORT: 22,
  IPV4: 23,
  IPV6: 24,
  SOCKETADDRESS: 25,
  XML: 28,
  WIN32ERROR: 30,
  NTSTATUS: 31,
  HRESULT: 32,
  JSON: 34,
} as const;

/**
 * The TDH out-type number a TraceLogging out-type means for a given in-type, or undefined when TDH
 * has no equivalent (NOPRINT) or the out-type is the default. HEX/SIGNED/UNSIGNED depend on the
 * in-type's width.
 */
export function tlgOutToTdh(outType: number, inType: number): number | undefined {
  const width = IN_WIDTH[inType & IN_TYPE_MASK];
  const byWidth = (w1: number, w2: number, w4: number, w8: number): number | undefined =>
    width === 1 ? w1 : width === 2 ? w2 : width === 4 ? w4 : width === 8 ? w8 : undefined;
  switch (outType) {
    case 0:
    case 1:
      return undefined;
    case 2:
      return TDH_OUT.STRING;
    case 3:
      return TDH_OUT.BOOLEAN;
    case 4:
      return width === undefined
        ? TDH_OUT.HEXBINARY
        : byWidth(TDH_OUT.HEXINT8, TDH_OUT.HEXINT16, TDH_OUT.HEXINT32, TDH_OUT.HEXINT64);
    case 5:
      return TDH_OUT.PID;
    case 6:
      return TDH_OUT.TID;
    case 7:
      return TDH_OUT.PORT;
    case 8:
      return TDH_OUT.IPV4;
    case 9:
      return TDH_OUT.IPV6;
    case 10:
      return TDH_OUT.SOCKETADDRESS;
    case 11:
      return TDH_OUT.XML;
    case 12:
      return TDH_OUT.JSON;
    case 13:
      return TDH_OUT.WIN32ERROR;
    case 14:
      return TDH_OUT.NTSTATUS;
    case 15:
      return TDH_OUT.HRESULT;
    case 16:
      return TDH_OUT.DATETIME;
    case 17:
      return byWidth(TDH_OUT.BYTE, TDH_OUT.SHORT, TDH_OUT.INT, TDH_OUT.LONG);
    case 18:
      return byWidth(TDH_OUT.UNSIGNEDBYTE, TDH_OUT.UNSIGNEDSHORT, TDH_OUT.UNSIGNEDINT, TDH_OUT.UNSIGNEDLONG);
    default:
      return outType >= 32 ? outType : undefined;
  }
}
