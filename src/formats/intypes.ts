/**
 * TDH in/out type numbers ↔ manifest spelling ("win:UInt32", "xs:unsignedInt", ...). Shared by every
 * source that stores types as numbers (WEVT_TEMPLATE property entries, TraceLogging field bytes) so
 * all of them produce the same `Field.inType` / `Field.outType` text as manifest XML does.
 *
 * Numbers are TDH_INTYPE / TDH_OUTTYPE (tdh.h, winmeta.xml). Note the jump to 300 for the
 * TDH-internal types: hand-written enums that number them sequentially are wrong.
 */

/** TDH_INTYPE number → manifest name. */
export const IN_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [0, "win:Null"],
  [1, "win:UnicodeString"],
  [2, "win:AnsiString"],
  [3, "win:Int8"],
  [4, "win:UInt8"],
  [5, "win:Int16"],
  [6, "win:UInt16"],
  [7, "win:Int32"],
  [8, "win:UInt32"],
  [9, "win:Int64"],
  [10, "win:UInt64"],
  [11, "win:Float"],
  [12, "win:Double"],
  [13, "win:Boolean"],
  [14, "win:Binary"],
  [15, "win:GUID"],
  [16, "win:Pointer"],
  [17, "win:FILETIME"],
  [18, "win:SYSTEMTIME"],
  [19, "win:SID"],
  [20, "win:HexInt32"],
  [21, "win:HexInt64"],
  // Manifest counted types (16-bit byte count prefix); TraceLogging uses the same numbers.
  [22, "win:CountedUnicodeString"],
  [23, "win:CountedAnsiString"],
  // 24: TraceLogging struct marker (TlgInSTRUCT); manifests express structs with <struct>.
  [24, "win:Struct"],
  [25, "win:CountedBinary"],
  // TDH-internal types (tdh.h, used by MOF/WBEM decoding); no manifest spelling exists, so "tdh:".
  [300, "tdh:CountedString"],
  [301, "tdh:CountedAnsiString"],
  [302, "tdh:ReversedCountedString"],
  [303, "tdh:ReversedCountedAnsiString"],
  [304, "tdh:NonNullTerminatedString"],
  [305, "tdh:NonNullTerminatedAnsiString"],
  [306, "tdh:UnicodeChar"],
  [307, "tdh:AnsiChar"],
  [308, "tdh:SizeT"],
  [309, "tdh:HexDump"],
  [310, "tdh:WbemSid"],
]);

/** TDH_OUTTYPE number → manifest name (0 = "use the in-type's default", no name). */
export const OUT_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [1, "xs:string"],
  [2, "xs:dateTime"],
  [3, "xs:byte"],
  [4, "xs:unsignedByte"],
  [5, "xs:short"],
  [6, "xs:unsignedShort"],
  [7, "xs:int"],
  [8, "xs:unsignedInt"],
  [9, "xs:long"],
  [10, "xs:unsignedLong"],
  [11, "xs:float"],
  [12, "xs:double"],
  [13, "xs:boolean"],
  [14, "xs:GUID"],
  [15, "xs:hexBinary"],
  [16, "win:HexInt8"],
  [17, "win:HexInt16"],
  [18, "win:HexInt32"],
  [19, "win:HexInt64"],
  [20, "win:PID"],
  [21, "win:TID"],
  [22, "win:Port"],
  [23, "win:IPv4"],
  [24, "win:IPv6"],
  [25, "win:SocketAddress"],
  [26, "win:CIMDateTime"],
  [27, "win:ETWTIME"],
  [28, "win:Xml"],
  [29, "win:ErrorCode"],
  [30, "win:Win32Error"],
  [31, "win:NTSTATUS"],
  [32, "win:HResult"],
  [33, "win:DateTimeCultureInsensitive"],
  [34, "win:Json"],
  [35, "win:Utf8"],
  [36, "win:Pkcs7WithTypeInfo"],
  [37, "win:CodePointer"],
  [38, "win:DateTimeUtc"],
]);

/**
 * Other spellings seen in the wild for the same in-type, e.g. PerfView/TDH-reconstructed manifests
 * write "win:CountedUtf16String"/"win:CountedMbcsString" and "win:<number>" for types they don't know.
 */
const IN_TYPE_ALIASES: ReadonlyMap<string, number> = new Map([
  ["win:countedutf16string", 22],
  ["win:countedmbcsstring", 23],
]);

const inByName = new Map([...IN_TYPE_NAMES].map(([n, s]) => [s.toLowerCase(), n]));
const outByName = new Map([...OUT_TYPE_NAMES].map(([n, s]) => [s.toLowerCase(), n]));

/** Manifest name of a TDH in-type; unknown numbers become "win:<n>" so nothing is silently lost. */
export function inTypeName(n: number): string {
  return IN_TYPE_NAMES.get(n) ?? `win:${n}`;
}

/** Manifest name of a TDH out-type; undefined for 0 ("default for the in-type"). */
export function outTypeName(n: number): string | undefined {
  if (n === 0) return undefined;
  return OUT_TYPE_NAMES.get(n) ?? `win:${n}`;
}

/** TDH in-type number for a manifest spelling (case-insensitive; accepts aliases and "win:<n>"). */
export function inTypeNumber(name: string): number | undefined {
  const key = name.trim().toLowerCase();
  const direct = inByName.get(key) ?? IN_TYPE_ALIASES.get(key);
  if (direct !== undefined) return direct;
  const m = /^(?:win|tdh):(\d+)$/.exec(key);
  return m ? Number(m[1]) : undefined;
}

/** TDH out-type number for a manifest spelling (case-insensitive; accepts "win:<n>"). */
export function outTypeNumber(name: string): number | undefined {
  const key = name.trim().toLowerCase();
  const direct = outByName.get(key);
  if (direct !== undefined) return direct;
  const m = /^(?:win|xs):(\d+)$/.exec(key);
  return m ? Number(m[1]) : undefined;
}

/** Canonical spelling of an in-type name (maps aliases to the winmeta name); unknown text is kept. */
export function canonicalInType(name: string): string {
  const n = inTypeNumber(name);
  return n === undefined ? name : inTypeName(n);
}

/** Out-types the message compiler fills in when a manifest gives none (TDH default rendering). */
const DEFAULT_OUT_TYPES: ReadonlyMap<number, readonly string[]> = new Map<number, readonly string[]>([
  [1, ["xs:string"]],
  [2, ["xs:string"]],
  [3, ["xs:byte"]],
  [4, ["xs:unsignedByte"]],
  [5, ["xs:short"]],
  [6, ["xs:unsignedShort"]],
  [7, ["xs:int"]],
  [8, ["xs:unsignedInt"]],
  [9, ["xs:long"]],
  [10, ["xs:unsignedLong"]],
  [11, ["xs:float"]],
  [12, ["xs:double"]],
  [13, ["xs:boolean"]],
  [14, ["xs:hexBinary"]],
  [15, ["xs:GUID"]],
  // Pointer renders as hex of the writer's pointer size.
  [16, ["win:HexInt64", "win:HexInt32"]],
  [17, ["xs:dateTime"]],
  [18, ["xs:dateTime"]],
  [19, ["xs:string"]],
  [20, ["win:HexInt32"]],
  [21, ["win:HexInt64"]],
  [22, ["xs:string"]],
  [23, ["xs:string"]],
  [25, ["xs:hexBinary"]],
]);

/** True when `outType` is what a manifest without an outType attribute gets for `inType`. */
export function isDefaultOutType(inType: number, outType: string): boolean {
  return DEFAULT_OUT_TYPES.get(inType)?.includes(outType) ?? false;
}
