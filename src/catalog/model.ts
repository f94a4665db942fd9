/**
 * The one event model. Every source — manifest XML, WEVT_TEMPLATE, MOF (text or binary),
 * TraceLogging metadata, WPP (TMF) — produces CatalogEvent records; the store, exporters, search,
 * diff, the web UI and the analysis join on these shapes.
 */

export type ProviderKind = "manifest" | "mof" | "tracelogging" | "wpp";

/** Where a record came from. */
export type SourceKind =
  | "manifest-xml"
  | "wevt-template"
  | "mof-text"
  | "mof-binary"
  | "tracelogging"
  | "wpp-pdb"
  | "wpp-tmf"
  | "registry-hive";

/** A numeric value with its symbolic name(s) where the source gives them. */
export interface Named {
  value: number;
  /** Name as the source spells it, e.g. "win:Informational" or "Process_Terminate". */
  name?: string;
  /** Resolved display text (message string), if any. */
  message?: string;
}

export interface Keywords {
  /** 64-bit mask as lower-case hex text "0x...", because JSON has no 64-bit integers. */
  mask: string;
  names: string[];
}

export interface Field {
  name: string;
  /** Input type in manifest spelling ("win:UInt32", "win:UnicodeString", ...) for every kind. */
  inType: string;
  outType?: string;
  /** Name of a value/bit map (manifest/WEVT) or an inline description of one (MOF ValueMap). */
  map?: string;
  /** Fixed element count, or the name of the field that holds the count. */
  count?: number | string;
  /** Fixed byte length, or the name of the field that holds the length. */
  length?: number | string;
  /** Struct members (manifest <struct>, TraceLogging struct). */
  fields?: Field[];
  /** TraceLogging field tags, MOF qualifiers and other source-specific detail. */
  tags?: number;
  extra?: Record<string, string | number | boolean>;
}

export interface ProviderRef {
  name: string;
  /** Lower-case GUID without braces; "" when the source has none. */
  guid: string;
  symbol?: string;
  /** TraceLogging provider group GUID (trait type 1), etc. */
  groupGuid?: string;
  /** True when the GUID equals the standard ETW hash of the provider name. */
  guidFromName?: boolean;
  /**
   * "catalog" when the source has no name for this GUID (e.g. Win7 WEVT_TEMPLATE resources) and
   * the name was taken from a same-GUID provider read from another file of the same catalog
   * (`CatalogStore.fillProviderNames`); "registry" when it came from a SOFTWARE hive's WINEVT\Publishers
   * key. Absent when the name is the source's own.
   */
  nameFrom?: "catalog" | "registry";
}

export interface Provenance {
  /** Path of the file as given to the scanner (relative where possible). */
  file: string;
  source: SourceKind;
  /** Windows build, e.g. "10.0.17134", when the file says so or its name does. */
  build?: string;
  /** Byte offset of the record inside the file, where meaningful. */
  offset?: number;
}

export interface CatalogEvent {
  kind: ProviderKind;
  provider: ProviderRef;
  /** Manifest/WEVT: event id; MOF: event type; WPP: message number; TraceLogging: 0 unless set. */
  id: number;
  version: number;
  channel?: Named;
  level?: Named;
  opcode?: Named;
  task?: Named;
  keywords: Keywords;
  /** Display name: manifest symbol or task/opcode-derived name; TraceLogging event name; MOF class+type. */
  name: string;
  /** Source symbol (manifest `symbol=`, MOF class name, WPP #typev name). */
  symbol?: string;
  message?: string;
  fields: Field[];
  provenance: Provenance;
  /** MOF specifics: category (class name) and event type names. */
  mof?: { className: string; category: string; eventTypeName?: string; classGuid: string };
  /** WPP specifics. */
  wpp?: {
    messageGuid: string;
    component?: string;
    sourceFile?: string;
    function?: string;
    level?: string;
    flags?: string;
    /** RVA of the PDB S_ANNOTATION holding the TMF (the trace call site in the image), if known. */
    annotationRva?: number;
  };
  /**
   * TraceLogging specifics. blobOffset: file offset of the blob's type byte; blobRva: its RVA (what
   * code references point into, for joining analysis call sites); providerStructRva: the
   * `_TlgProvider_t` of the provider, when known; providerFrom: see below.
   */
  tracelogging?: {
    eventTags?: number;
    blobType?: number;
    blobOffset?: number;
    blobRva?: number;
    providerStructRva?: number;
    /** "code" when the image has several providers and only its write sites tie this event to one. */
    providerFrom?: "code";
  };
}

/** Provider-level metadata a source may carry beyond what each event repeats. */
export interface CatalogProvider {
  kind: ProviderKind;
  provider: ProviderRef;
  provenance: Provenance;
  messageFile?: string;
  resourceFile?: string;
  channels?: Named[];
  levels?: Named[];
  tasks?: Named[];
  opcodes?: Named[];
  keywords?: Array<Named & { mask: string }>;
  maps?: Array<{ name: string; kind: "value" | "bitmap"; entries: Named[] }>;
}

/** What one reader returns for one input. */
export interface SourceResult {
  providers: CatalogProvider[];
  events: CatalogEvent[];
  /** Non-fatal observations (skipped parts, recovered errors) to show the user. */
  notes: string[];
}

export function emptyResult(): SourceResult {
  return { providers: [], events: [], notes: [] };
}

export function mergeResults(into: SourceResult, from: SourceResult): SourceResult {
  into.providers.push(...from.providers);
  into.events.push(...from.events);
  into.notes.push(...from.notes);
  return into;
}

/** Keyword mask helpers: masks are 64-bit. */
export function maskToHex(mask: bigint | number): string {
  return "0x" + BigInt(mask).toString(16);
}
