import { appendAll } from "../../util/arrays.js";
import { ByteView } from "../../util/bytes.js";
import { FormatError } from "../../util/errors.js";
import { SCN_MEM_WRITE } from "../pe/headers.js";
import type { PeImage } from "../pe/image.js";
import { readBaseRelocations } from "../pe/relocs.js";
import { FORMAT, readEventBlob, readProviderBlob, type TlgEventDescriptor } from "./blobs.js";
import { findHeaders, type HeaderHit } from "./headers.js";
import { guidFromProviderName } from "./name-guid.js";
import { walkRustLayout } from "./rust.js";

export * from "./blobs.js";
export { findHeaders, type HeaderHit } from "./headers.js";
export { guidFromProviderName } from "./name-guid.js";
export * from "./types.js";

/**
 * TraceLogging metadata of a PE image: every `ETW0` header, the provider and event blobs after it,
 * and the `_TlgProvider_t` runtime structures in writable data that point at provider blobs.
 * Addresses are RVAs so the analysis can join code references (blob+1, blob+12, struct) to blobs.
 */

export interface TraceLoggingHeader {
  rva: number;
  section: string;
  /** Header flags bit 0: pointers are 64-bit. */
  ptr64: boolean;
  version: number;
  /** `tlg`: `_TlgBlob_t`-typed blobs (C/C++ SDK); `rust`: rust_win_etw raw metadata, no type bytes. */
  layout: "tlg" | "rust";
  /** RVA just past the last byte walked (the End blob for `tlg`). */
  endRva: number;
  /** False when the walk stopped on an error before the End blob. */
  complete: boolean;
}

export interface TraceLoggingProvider {
  name: string;
  /** Lower-case GUID; for type-2 (and rust) blobs without a GUID, the name-derived GUID. */
  guid: string;
  /** True when `guid` equals the ETW hash of `name` (always true for GUID-less blobs). */
  guidFromName: boolean;
  groupGuid?: string;
  traits: Array<{ type: number; data: string }>;
  /** 2 or 4 (tlg), 0 for the rust layout. */
  blobType: number;
  blobRva: number;
  blobSize: number;
  /** RVA of the provider metadata (u16 RemainingSize): what `_TlgProvider_t` points at. */
  metadataRva: number;
  headerRva: number;
  /** `_TlgProvider_t` instances in writable data pointing at this provider (usually one). */
  structs: TlgProviderStruct[];
  /** The first struct's RVA and its REGHANDLE slot (struct + 0x20 on x64, + 0x18 on x86). */
  structRva?: number;
  handleRva?: number;
}

export interface TlgProviderStruct {
  rva: number;
  handleRva: number;
  section: string;
  /** The metadata pointer slot has a base relocation (proof it is a pointer, not a constant). */
  relocated: boolean;
}

export interface TraceLoggingEvent extends TlgEventDescriptor {
  /** 3 = Event3, 5 = Event2, 6 = Event4; 0 for the rust layout (level etc. live in code there). */
  blobType: number;
  blobRva: number;
  blobSize: number;
  headerRva: number;
  /** Event id and version ETW sees: types 3/5 use the blob's offset from the header, type 6 uses 0. */
  id: number;
  version: number;
}

export interface TraceLoggingInfo {
  headers: TraceLoggingHeader[];
  providers: TraceLoggingProvider[];
  events: TraceLoggingEvent[];
  /** Observations worth showing (layout detected, provider without runtime struct, ...). */
  notes: string[];
  /** Walk errors (each stops the walk of one header; blobs before it are kept). */
  errors: string[];
}

const infoCache = new WeakMap<PeImage, TraceLoggingInfo>();

/**
 * `readTraceLogging` once per parsed image: the catalog reader and the write-site analysis both ask
 * for the same image's metadata during one scan.
 */
export function traceLoggingInfo(pe: PeImage): TraceLoggingInfo {
  let info = infoCache.get(pe);
  if (!info) {
    info = readTraceLogging(pe);
    infoCache.set(pe, info);
  }
  return info;
}

/** Reads all TraceLogging metadata of an image. Never throws for bad metadata: errors are listed. */
export function readTraceLogging(pe: PeImage): TraceLoggingInfo {
  const info: TraceLoggingInfo = { headers: [], providers: [], events: [], notes: [], errors: [] };
  for (const hit of findHeaders(pe)) walkHeader(hit, info);
  if (info.providers.length > 0) findProviderStructs(pe, info);
  info.events.sort((a, b) => a.blobRva - b.blobRva);
  return info;
}

function walkHeader(hit: HeaderHit, info: TraceLoggingInfo): void {
  const v = new ByteView(hit.bytes, FORMAT);
  const base = hit.sectionRva;
  const header: TraceLoggingHeader = {
    rva: base + hit.offset,
    section: hit.section,
    ptr64: hit.ptr64,
    version: hit.version,
    layout: "tlg",
    endRva: base + hit.offset + 16,
    complete: false,
  };
  const providers: TraceLoggingProvider[] = [];
  const events: TraceLoggingEvent[] = [];
  let o = hit.offset + 16;
  let error: FormatError | undefined;
  try {
    while (o < hit.bytes.length) {
      const type = v.u8(o);
      if (type === 0) {
        o++;
      } else if (type === 1) {
        o++;
        header.complete = true;
        break;
      } else if (type === 3 || type === 5 || type === 6) {
        const b = readEventBlob(v, o, hit.bytes.length);
        const rel = b.offset + 1 - hit.offset;
        const offsetId = b.blobType !== 6 && rel < 0x1000000;
        const { offset, size, ...descriptor } = b;
        events.push({
          ...descriptor,
          blobRva: base + offset,
          blobSize: size,
          headerRva: header.rva,
          id: offsetId ? rel & 0xffff : 0,
          version: offsetId ? rel >>> 16 : 0,
        });
        o += b.size;
      } else if (type === 2 || type === 4) {
        const b = readProviderBlob(v, o, hit.bytes.length);
        providers.push(
          providerRecord(
            b.name,
            b.guid,
            b.blobType,
            base + b.offset,
            b.size,
            base + b.metadataOffset,
            header.rva,
            b.traits,
            b.groupGuid,
          ),
        );
        o += b.size;
      } else {
        throw new FormatError(FORMAT, `unknown blob type ${type} at RVA 0x${(base + o).toString(16)}`, o);
      }
    }
    if (!header.complete)
      throw new FormatError(FORMAT, "metadata runs to the end of its section without an End blob", o);
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
    error = err;
  }
  header.endRva = base + o;
  if (error) {
    // A rust_win_etw module has the same header but raw metadata without type bytes.
    const rust = walkRustLayout(v, hit.offset + 16, hit.bytes.length);
    if (rust && rust.events.length + rust.providers.length > 0) {
      header.layout = "rust";
      header.complete = true;
      header.endRva = base + rust.end;
      info.notes.push(
        `ETW0 header at RVA 0x${header.rva.toString(16)} uses the rust_win_etw layout (no blob type bytes): ` +
          `${rust.events.length} event(s), ${rust.providers.length} provider(s); level/opcode/keyword of its events live in code`,
      );
      info.headers.push(header);
      for (const e of rust.events)
        info.events.push({
          name: e.name,
          blobType: 0,
          blobRva: base + e.offset,
          blobSize: e.size,
          headerRva: header.rva,
          channel: 11,
          level: 0,
          opcode: 0,
          keyword: 0n,
          tags: e.tags,
          fields: e.fields,
          id: 0,
          version: 0,
        });
      for (const p of rust.providers)
        info.providers.push(
          providerRecord(
            p.name,
            "",
            0,
            base + p.offset,
            p.size,
            base + p.offset,
            header.rva,
            p.traits,
            p.groupGuid,
          ),
        );
      return;
    }
    info.errors.push(`ETW0 header at RVA 0x${header.rva.toString(16)}: ${error.message}`);
  }
  info.headers.push(header);
  appendAll(info.providers, providers);
  appendAll(info.events, events);
}

function providerRecord(
  name: string,
  guid: string,
  blobType: number,
  blobRva: number,
  blobSize: number,
  metadataRva: number,
  headerRva: number,
  traits: Array<{ type: number; data: string }>,
  groupGuid: string | undefined,
): TraceLoggingProvider {
  const hashed = guidFromProviderName(name);
  return {
    name,
    guid: guid || hashed,
    guidFromName: !guid || guid === hashed,
    ...(groupGuid ? { groupGuid } : {}),
    traits,
    blobType,
    blobRva,
    blobSize,
    metadataRva,
    headerRva,
    structs: [],
  };
}

/**
 * Finds `_TlgProvider_t` structures: pointer-aligned slots in writable sections whose value is the
 * VA of a provider's metadata (its u16 size field). The struct starts one pointer before the slot.
 */
function findProviderStructs(pe: PeImage, info: TraceLoggingInfo): void {
  const ptr = pe.is64 ? 8 : 4;
  const byLow = new Map<number, TraceLoggingProvider[]>();
  const imageBase = pe.imageBase;
  for (const p of info.providers) {
    const va = imageBase + BigInt(p.metadataRva);
    const low = Number(va & 0xffffffffn);
    byLow.set(low, [...(byLow.get(low) ?? []), p]);
  }
  let relocs: Set<number> | undefined;
  try {
    relocs = readBaseRelocations(pe);
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
    info.notes.push(`base relocations unreadable (${err.message}); provider structs found without them`);
  }
  for (const s of pe.sections) {
    if ((s.characteristics & SCN_MEM_WRITE) === 0) continue;
    const bytes = pe.sectionBytes(s);
    const len = Math.min(bytes.length, Math.max(s.virtualSize, 0) || bytes.length);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // Slots are pointer-aligned by RVA; sections start page-aligned so offset alignment is the same.
    for (let o = 0; o + ptr <= len; o += ptr) {
      const low = dv.getUint32(o, true);
      const candidates = byLow.get(low);
      if (!candidates) continue;
      const high = ptr === 8 ? dv.getUint32(o + 4, true) : 0;
      const va = (BigInt(high) << 32n) | BigInt(low);
      for (const p of candidates) {
        if (imageBase + BigInt(p.metadataRva) !== va) continue;
        const slotRva = s.virtualAddress + o;
        const rva = slotRva - ptr;
        p.structs.push({
          rva,
          handleRva: rva + (ptr === 8 ? 0x20 : 0x18),
          section: s.name,
          relocated: relocs ? relocs.has(slotRva) : false,
        });
      }
    }
  }
  for (const p of info.providers) {
    // Prefer relocated slots: an unrelocated match is a constant that merely looks like the address.
    p.structs.sort((a, b) => Number(b.relocated) - Number(a.relocated) || a.rva - b.rva);
    const first = p.structs[0];
    if (first) {
      p.structRva = first.rva;
      p.handleRva = first.handleRva;
    } else if (p.blobType !== 0) {
      // rust_win_etw keeps no _TlgProvider_t, so only C/C++ providers are expected to have one.
      info.notes.push(
        `provider "${p.name}" has no _TlgProvider_t in writable data (defined elsewhere or unused)`,
      );
    }
  }
}

/** The event whose blob contains `rva` (code references blob+1, blob+12 or other inner bytes). */
export function eventAtRva(info: TraceLoggingInfo, rva: number): TraceLoggingEvent | undefined {
  // Events are sorted by blobRva and do not overlap: binary search for the last start <= rva.
  let lo = 0;
  let hi = info.events.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (info.events[mid]!.blobRva <= rva) lo = mid + 1;
    else hi = mid - 1;
  }
  const e = info.events[hi];
  return e && rva < e.blobRva + e.blobSize ? e : undefined;
}

/** The provider whose `_TlgProvider_t` (any of its structs) contains `rva`. */
export function providerByStructRva(info: TraceLoggingInfo, rva: number): TraceLoggingProvider | undefined {
  const size = 0x40;
  return info.providers.find((p) => p.structs.some((s) => rva >= s.rva && rva < s.rva + size));
}
