import { inTypeName, outTypeName } from "../../formats/intypes.js";
import {
  type WinmetaValue,
  winmetaChannelByValue,
  winmetaLevelByValue,
  winmetaOpcodeByValue,
} from "../../formats/manifest/winmeta.js";
import type { PeImage } from "../../formats/pe/image.js";
import {
  type TlgField,
  type TraceLoggingInfo,
  type TraceLoggingProvider,
  tlgInName,
  tlgOutName,
  tlgOutToTdh,
  traceLoggingInfo,
} from "../../formats/tracelogging/index.js";
import type { CatalogEvent, CatalogProvider, Field, Named, ProviderRef, SourceResult } from "../model.js";
import { maskToHex } from "../model.js";
import type { SourceInput } from "../sources.js";
import type { PeExtractor } from "./pe.js";

/**
 * Which provider each event blob of a multi-provider image belongs to. Only code says that, so the
 * layer that may run the analysis (src/pipeline) passes it in; without it such events keep an empty
 * provider and the result says why.
 */
export type TraceLoggingAttribution = (pe: PeImage) => {
  byBlob?: Map<number, TraceLoggingProvider>;
  note?: string;
};

/** TraceLogging (ETW0) metadata of a PE image as catalog records (kind and source `tracelogging`). */
export function traceLoggingExtractor(attribute?: TraceLoggingAttribution): PeExtractor {
  return {
    id: "tracelogging",
    extract: (pe: PeImage, input: SourceInput) => {
      const info = traceLoggingInfo(pe);
      const several = info.providers.length > 1 && info.events.length > 0;
      const sites = !several
        ? {}
        : attribute
          ? attribute(pe)
          : { note: "provider per event not resolved: several providers and no code analysis in this run" };
      const result = traceLoggingToCatalog(info, input.path, (rva) => pe.rvaToOffset(rva), sites.byBlob);
      if (sites.note) result.notes.push(`tracelogging: ${sites.note}`);
      return result;
    },
  };
}

/**
 * Keyword bits TraceLoggingProvider.h / the Windows SDK name for every TraceLogging provider
 * (telemetry privacy tags): named so keyword search and exports can use them.
 */
const WELL_KNOWN_KEYWORDS: Array<[bigint, string]> = [
  [0x0000200000000000n, "MICROSOFT_KEYWORD_TELEMETRY"],
  [0x0000400000000000n, "MICROSOFT_KEYWORD_MEASURES"],
  [0x0000800000000000n, "MICROSOFT_KEYWORD_CRITICAL_DATA"],
];

export function wellKnownKeywordNames(keyword: bigint | number): string[] {
  const k = BigInt(keyword);
  return WELL_KNOWN_KEYWORDS.filter(([bit]) => (k & bit) !== 0n).map(([, name]) => name);
}

export function providerRef(p: TraceLoggingProvider): ProviderRef {
  return {
    name: p.name,
    guid: p.guid,
    ...(p.groupGuid ? { groupGuid: p.groupGuid } : {}),
    guidFromName: p.guidFromName,
  };
}

/**
 * Event blobs do not name their provider; only code ties them together (the analysis does that).
 * With exactly one provider in the image the association is unambiguous; with several, events take
 * the provider their write sites name (`providerByBlob`), else an empty provider.
 */
export function traceLoggingToCatalog(
  info: TraceLoggingInfo,
  file: string,
  fileOffset: (rva: number) => number | undefined = () => undefined,
  /** Provider of each event blob from the analysis of write sites (multi-provider images). */
  providerByBlob?: Map<number, TraceLoggingProvider>,
): SourceResult {
  const at = (rva: number) => {
    const offset = fileOffset(rva);
    return offset === undefined ? {} : { offset };
  };
  const providers: CatalogProvider[] = info.providers.map((p) => ({
    kind: "tracelogging",
    provider: providerRef(p),
    provenance: { file, source: "tracelogging", ...at(p.blobRva) },
  }));
  const single = info.providers.length === 1 ? info.providers[0]! : undefined;
  const only = single ? providerRef(single) : { name: "", guid: "" };
  const events: CatalogEvent[] = info.events.map((e) => {
    const owner = single ?? providerByBlob?.get(e.blobRva);
    return {
      kind: "tracelogging",
      provider: owner ? providerRef(owner) : only,
      id: e.id,
      version: e.version,
      channel: named(e.channel, winmetaChannelByValue),
      level: named(e.level, winmetaLevelByValue),
      opcode: named(e.opcode, winmetaOpcodeByValue),
      ...(e.task !== undefined ? { task: { value: e.task } } : {}),
      keywords: { mask: maskToHex(e.keyword), names: wellKnownKeywordNames(e.keyword) },
      name: e.name,
      fields: e.fields.map(toField),
      provenance: { file, source: "tracelogging", ...at(e.blobRva) },
      tracelogging: {
        eventTags: e.tags,
        blobType: e.blobType,
        ...(fileOffset(e.blobRva) !== undefined ? { blobOffset: fileOffset(e.blobRva) } : {}),
        blobRva: e.blobRva,
        ...(owner?.structRva !== undefined ? { providerStructRva: owner.structRva } : {}),
        ...(owner && !single ? { providerFrom: "code" as const } : {}),
      },
    };
  });
  const notes = [
    ...info.notes.map((n) => `tracelogging: ${n}`),
    ...info.errors.map((n) => `tracelogging: ${n}`),
  ];
  return { providers, events, notes };
}

/** TraceLogging stores only numbers; name the ones winmeta predefines (level 4 → win:Informational). */
function named(value: number, byValue: (v: number) => WinmetaValue | undefined): Named {
  const w = byValue(value);
  return w ? { value, name: w.name, message: w.message } : { value };
}

/** A TraceLogging field in the shared model: manifest type spelling plus the SDK names in `extra`. */
export function toField(f: TlgField): Field {
  // A struct's out-type byte is its member count, not a format.
  const isStruct = f.fields !== undefined;
  const out = isStruct ? undefined : outTypeName(tlgOutToTdh(f.outType, f.inType) ?? 0);
  const extra: Record<string, string | number | boolean> = { tlgInType: tlgInName(f.inType) };
  if (f.outType !== 0 && !isStruct) extra.tlgOutType = tlgOutName(f.outType);
  if (f.array === "variable") extra.variableCount = true;
  if (f.custom) {
    extra.customProtocol = f.custom.protocol;
    extra.customSchema = f.custom.typeInfo;
  }
  return {
    name: f.name,
    inType: f.custom ? "win:Binary" : inTypeName(f.inType),
    ...(out ? { outType: out } : {}),
    ...(f.array === "fixed" && f.count !== undefined ? { count: f.count } : {}),
    ...(f.tags !== undefined ? { tags: f.tags } : {}),
    ...(f.fields ? { fields: f.fields.map(toField) } : {}),
    extra,
  };
}
