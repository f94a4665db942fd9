/**
 * Recall of the write-site analysis on one image: of the manifest events the image can write itself
 * (their 16-byte EVENT_DESCRIPTOR occurs in the image outside .rsrc), how many are found at a site
 * with both provider and descriptor resolved. Misses are grouped by cause so a figure over a whole
 * build says what is left to do.
 */
import type { CatalogEvent } from "../catalog/model.js";
import { isKernelMode, type PeImage, readExports, readImports } from "../formats/pe/index.js";
import { parseGuid } from "../util/bytes.js";
import type { AnalysisReport } from "./analyze.js";
import { type Code, Reg } from "./disasm.js";
import type { WriteFinding } from "./recognizers/types.js";
import { ripAccesses } from "./rip-accesses.js";

/** Kind of image, for per-kind figures. */
export type ImageKind = "kernel driver" | "service DLL" | "COM/UI DLL" | "EXE" | "other DLL";

/** Why a writable event has no site with provider + descriptor. */
export type MissCause =
  /**
   * The provider's GUID bytes occur nowhere outside .rsrc: the image cannot register it; the
   * descriptor bytes are another provider's identical descriptor (a manifest shared by several
   * binaries, e.g. fhsvc's six providers of which it registers two).
   */
  | "provider not in image"
  /**
   * Every site with the descriptor reads its handle from a global that nothing in the image can
   * fill (`unwrittenHandle`), passes the constant 0, or reads another module's handle through a
   * data import: the provider is never registered by this image (samsrv.dll's and lsasrv.dll's
   * audit events; ole32.dll's writes with handle 0; umpoext.dll's `PtrUmpoProviderHandle`).
   */
  | "handle never written"
  /** A site has the descriptor but no provider. */
  | "provider unresolved"
  /**
   * A site offers the descriptor as one of several table entries, but no such site has the
   * event's provider (with it, the event counts as found as one of N: `foundAsCandidate`).
   */
  | "table-indexed"
  /** The descriptor is referenced by code, but no write site resolves to it. */
  | "descriptor referenced, no site"
  /** The descriptor bytes occur in data no instruction references directly. */
  | "descriptor in unreferenced data";

export interface RecallMiss {
  event: CatalogEvent;
  cause: MissCause;
  /** RVAs where the descriptor bytes occur outside .rsrc. */
  places: number[];
}

export interface ImageRecall {
  kind: ImageKind;
  /** Events whose 16 descriptor bytes occur outside .rsrc (the definition). */
  writable: number;
  /** Of those, the events whose provider GUID also occurs outside .rsrc. */
  ownWritable: number;
  found: number;
  /**
   * Of `found`, the events found only as one of N candidates of a table site with their provider
   * (a descriptor picked from a table at run time: the site writes one of the table's entries, each
   * entry an own descriptor, the index not constant) — kept apart so the figure stays transparent.
   */
  foundAsCandidate: number;
  /** Manifest sites with a full descriptor, and those of them with a provider GUID. */
  descriptorSites: number;
  descriptorSitesWithProvider: number;
  /** Of the sites without provider, those whose handle global nothing writes (`unwrittenHandle`). */
  descriptorSitesUnwrittenHandle: number;
  /** Of the sites without provider, those passing the constant 0 as the handle (`nullHandle`). */
  descriptorSitesNullHandle: number;
  /** Of the sites without provider, those reading another module's handle (`importedHandle`). */
  descriptorSitesImportedHandle: number;
  misses: RecallMiss[];
}

export function imageKind(pe: PeImage): ImageKind {
  const dll = (pe.headers.characteristics & 0x2000) !== 0;
  if (pe.headers.subsystem === 1 && isKernelMode(readImports(pe))) return "kernel driver";
  if (!dll) return "EXE";
  const names = new Set((readExports(pe)?.entries ?? []).map((e) => e.name ?? ""));
  if (
    names.has("ServiceMain") ||
    names.has("SvchostPushServiceGlobals") ||
    [...names].some((n) => /ServiceMain$/.test(n))
  )
    return "service DLL";
  if (names.has("DllGetClassObject")) return "COM/UI DLL";
  return "other DLL";
}

/** The 16 EVENT_DESCRIPTOR bytes of a manifest catalog event. */
export function descriptorBytesOf(e: CatalogEvent): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, e.id, true);
  b[2] = e.version;
  b[3] = e.channel?.value ?? 0;
  b[4] = e.level?.value ?? 0;
  b[5] = e.opcode?.value ?? 0;
  dv.setUint16(6, e.task?.value ?? 0, true);
  dv.setBigUint64(8, BigInt(e.keywords.mask), true);
  return b;
}

function indexOfAll(hay: Uint8Array, needle: Uint8Array): number[] {
  const out: number[] = [];
  const first = needle[0]!;
  const end = hay.length - needle.length;
  outer: for (let i = hay.indexOf(first); i >= 0 && i <= end; i = hay.indexOf(first, i + 1)) {
    for (let k = 1; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
    out.push(i);
  }
  return out;
}

const key = (guid: string, id: number, version: number): string => `${guid}|${id}|${version}`;

/**
 * Recall of `findings` against the image's own manifest events (`events`, kind manifest).
 * `referenced(rva)` says whether some instruction addresses that rva (RIP-relative).
 */
export function measureRecall(
  pe: PeImage,
  events: CatalogEvent[],
  findings: WriteFinding[],
  referenced: (rva: number) => boolean,
  unwritten: (handleRva: number) => boolean = () => false,
): ImageRecall {
  const rsrc = pe.sections.find((s) => s.name === ".rsrc");
  const inRsrc = (rva: number): boolean =>
    rsrc !== undefined && rva >= rsrc.virtualAddress && rva < rsrc.virtualAddress + rsrc.virtualSize;
  const found = new Set<string>();
  const descriptorOnly = new Set<string>();
  /** Descriptors with a provider-less site whose handle can be filled (not `unwritten`). */
  const fillable = new Set<string>();
  let unwrittenSites = 0;
  let nullSites = 0;
  let importedSites = 0;
  const inTable = new Set<string>();
  /** Provider + id + version of table candidates at sites with their provider. */
  const candidateFound = new Set<string>();
  let descriptorSites = 0;
  let withProvider = 0;
  for (const f of findings) {
    if (f.event.kind !== "manifest") continue;
    const d = f.event.descriptor;
    const guid = f.provider?.guid;
    if (d) {
      descriptorSites++;
      if (guid) {
        withProvider++;
        found.add(key(guid, d.id, d.version));
      } else {
        descriptorOnly.add(`${d.id}|${d.version}`);
        const h = f.provider?.handleRva;
        if (h !== undefined && unwritten(h)) unwrittenSites++;
        else if (f.provider?.nullHandle) nullSites++;
        else if (f.provider?.importedHandle) importedSites++;
        else fillable.add(`${d.id}|${d.version}`);
      }
    }
    for (const c of f.event.candidates ?? []) {
      inTable.add(`${c.id}|${c.version}`);
      if (guid) candidateFound.add(key(guid, c.id, c.version));
    }
  }
  let writable = 0;
  let foreign = 0;
  let hits = 0;
  let asCandidate = 0;
  const guidInImage = new Map<string, boolean>();
  const hasGuid = (guid: string): boolean => {
    let v = guidInImage.get(guid);
    if (v === undefined) {
      v = indexOfAll(pe.bytes, parseGuid(guid)).some((off) => {
        const rva = pe.offsetToRva(off);
        return rva !== undefined && !inRsrc(rva);
      });
      guidInImage.set(guid, v);
    }
    return v;
  };
  const misses: RecallMiss[] = [];
  for (const e of events) {
    if (e.kind !== "manifest" || !e.provider.guid) continue;
    const places: number[] = [];
    for (const off of indexOfAll(pe.bytes, descriptorBytesOf(e))) {
      const rva = pe.offsetToRva(off);
      if (rva !== undefined && !inRsrc(rva)) places.push(rva);
    }
    if (places.length === 0) continue;
    writable++;
    if (found.has(key(e.provider.guid, e.id, e.version))) {
      hits++;
      continue;
    }
    if (candidateFound.has(key(e.provider.guid, e.id, e.version))) {
      hits++;
      asCandidate++;
      continue;
    }
    const idv = `${e.id}|${e.version}`;
    const cause: MissCause = !hasGuid(e.provider.guid)
      ? "provider not in image"
      : descriptorOnly.has(idv)
        ? fillable.has(idv)
          ? "provider unresolved"
          : "handle never written"
        : inTable.has(idv)
          ? "table-indexed"
          : places.some(referenced)
            ? "descriptor referenced, no site"
            : "descriptor in unreferenced data";
    if (cause === "provider not in image") foreign++;
    misses.push({ event: e, cause, places });
  }
  return {
    kind: imageKind(pe),
    writable,
    ownWritable: writable - foreign,
    found: hits,
    foundAsCandidate: asCandidate,
    descriptorSites,
    descriptorSitesWithProvider: withProvider,
    descriptorSitesUnwrittenHandle: unwrittenSites,
    descriptorSitesNullHandle: nullSites,
    descriptorSitesImportedHandle: importedSites,
    misses,
  };
}

/** Bytes before a handle global within which a struct base's address would let code reach it. */
const HANDLE_REACH = 0x40;

/**
 * Is the 8-byte global at rva a handle nothing in the image can fill? Its initial bytes are zero,
 * no instruction writes it, none takes the address of it or of anything up to HANDLE_REACH bytes
 * before it (a struct holding it), and no pointer-sized value in the image points into that range
 * (a table of handle addresses). A run-time fill through a pointer from outside the image stays possible in
 * principle (another module handed the address), so this names a cause, it does not drop a site.
 */
export function unwrittenHandle(pe: PeImage, code: Code): (rva: number) => boolean {
  const accesses = ripAccesses(code);
  const cache = new Map<number, boolean>();
  return (rva) => {
    let v = cache.get(rva);
    if (v !== undefined) return v;
    const lo = rva - HANDLE_REACH;
    const hi = rva + 8;
    const off = pe.rvaToOffset(rva);
    const zero = off === undefined || pe.bytes.subarray(off, off + 8).every((x) => x === 0);
    v =
      zero &&
      !accesses.addressTakenIn(lo, hi) &&
      accesses.writesIn(rva, hi).length === 0 &&
      !pointsInto(pe, lo, hi);
    cache.set(rva, v);
    return v;
  };
}

/** Does any aligned 8-byte value of the image equal an address in [imageBase+lo, imageBase+hi)? */
function pointsInto(pe: PeImage, lo: number, hi: number): boolean {
  const base = pe.headers.imageBase;
  const dv = new DataView(pe.bytes.buffer, pe.bytes.byteOffset, pe.bytes.byteLength);
  const from = base + BigInt(lo);
  const to = base + BigInt(hi);
  for (let o = 0; o + 8 <= pe.bytes.length; o += 8) {
    const x = dv.getBigUint64(o, true);
    if (x >= from && x < to) return true;
  }
  return false;
}

/** Recall of an analysis report against the image's own manifest events. */
export function recallOfReport(report: AnalysisReport, events: CatalogEvent[]): ImageRecall {
  const code = report.program.code;
  const referenced = new Set<number>();
  for (let i = 0; i < code.count; i++) if (code.memBase[i] === Reg.RIP) referenced.add(code.addr[i]!);
  return measureRecall(
    report.program.pe,
    events,
    report.findings,
    (rva) => referenced.has(rva),
    unwrittenHandle(report.program.pe, code),
  );
}
