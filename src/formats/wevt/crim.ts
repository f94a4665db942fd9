import { appendAll } from "../../util/arrays.js";
import { ByteView } from "../../util/bytes.js";
import { FormatError } from "../../util/errors.js";
import { parseBinXml } from "./binxml.js";
import {
  PROP_FIXED_COUNT,
  PROP_FIXED_LENGTH,
  PROP_STRUCT,
  PROP_VAR_COUNT,
  PROP_VAR_LENGTH,
  PRVA_PROVIDER_NAME,
  type WevtAttribute,
  type WevtChannel,
  type WevtElementRef,
  type WevtEvent,
  type WevtKeyword,
  type WevtLevel,
  type WevtManifest,
  type WevtMap,
  type WevtOpcode,
  type WevtProperty,
  type WevtProvider,
  type WevtTask,
  type WevtTemplate,
} from "./types.js";

/**
 * Parser for the compiled instrumentation manifest stored in the `WEVT_TEMPLATE` PE resource.
 * Layouts were checked on the corpus binaries (see docs/formats/wevt.md); every offset is relative
 * to the CRIM blob and bounds-checked against it, because event entries may point into tables of
 * another provider in the same blob.
 */

const F = "wevt";
const MAX_STRUCT_DEPTH = 16;

/**
 * ByteView plus the state that keeps hostile blobs linear: decoded strings are cached by offset
 * (many records may name the same string) and the records read are counted against a budget
 * (in a valid blob tables do not overlap, so their sizes add up to less than the blob).
 */
class CrimView extends ByteView {
  readonly strings = new Map<number, string>();
  private used = 0;
  private readonly limit: number;
  constructor(bytes: Uint8Array) {
    super(bytes, F);
    this.limit = 4 * bytes.length + 4096;
  }
  spend(size: number, what: string, at: number): void {
    this.used += size;
    if (this.used > this.limit)
      throw new FormatError(F, `${what}: tables overlap more than a valid blob can`, at);
  }
}

const fourCC = (v: CrimView, o: number): string =>
  String.fromCharCode(v.u8(o), v.u8(o + 1), v.u8(o + 2), v.u8(o + 3));

/** True when the bytes start with the CRIM magic. */
export function looksLikeCrim(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 16 && bytes[0] === 0x43 && bytes[1] === 0x52 && bytes[2] === 0x49 && bytes[3] === 0x4d
  );
}

/** Reads a WEVT name string: `u32 size` (whole record incl. padding), UTF-16LE text, NUL. */
function sizedString(v: CrimView, o: number, what: string): string {
  const cached = v.strings.get(o);
  if (cached !== undefined) return cached;
  const size = v.u32(o);
  if (size < 4 || size % 2 !== 0) throw new FormatError(F, `${what}: bad string size ${size}`, o);
  v.check(o, size, what);
  const text = v.utf16(o + 4, (size - 4) / 2);
  const nul = text.indexOf("\0");
  const name = nul < 0 ? text : text.slice(0, nul);
  v.strings.set(o, name);
  return name;
}

const optionalString = (v: CrimView, o: number, what: string): string =>
  o === 0 ? "" : sizedString(v, o, what);

/** A table header `{magic, length, count}`; checks that `count` entries of `entrySize` fit. */
function listHeader(v: CrimView, o: number, magic: string, entrySize: number, headerSize = 12): number {
  const found = fourCC(v, o);
  if (found !== magic) throw new FormatError(F, `expected ${magic} table, found "${found}"`, o);
  const count = v.u32(o + 8);
  // Length is 0 for empty tables; the entries must still fit in the blob.
  v.check(o + headerSize, count * entrySize, `${magic} entries (${count})`);
  v.spend(count * entrySize, `${magic} table`, o);
  return count;
}

export function parseCrim(bytes: Uint8Array): WevtManifest {
  const v = new CrimView(bytes);
  if (!looksLikeCrim(bytes)) throw new FormatError(F, "not a CRIM blob (missing magic)", 0);
  const size = v.u32(4);
  if (size > bytes.length)
    throw new FormatError(F, `CRIM size ${size} exceeds resource size ${bytes.length}`, 4);
  const majorVersion = v.u16(8);
  const minorVersion = v.u16(10);
  const count = v.u32(12);
  v.check(16, count * 20, `provider directory (${count} entries)`);
  const providers: WevtProvider[] = [];
  for (let i = 0; i < count; i++) {
    const e = 16 + i * 20;
    providers.push(parseProvider(v, v.guid(e), v.u32(e + 16)));
  }
  // Second pass: names that live in tables of any provider (shared offsets).
  const mapNames = new Map<number, string>();
  for (const p of providers) for (const m of p.maps) mapNames.set(m.offset, m.name);
  for (const p of providers)
    for (const t of p.templates) for (const prop of t.properties) resolveMapNames(prop, mapNames);
  return { size, majorVersion, minorVersion, providers };
}

function resolveMapNames(p: WevtProperty, names: Map<number, string>): void {
  if (p.mapOffset !== undefined) p.map = names.get(p.mapOffset);
  for (const m of p.members ?? []) resolveMapNames(m, names);
}

function parseProvider(v: CrimView, guid: string, o: number): WevtProvider {
  if (fourCC(v, o) !== "WEVT") throw new FormatError(F, `provider ${guid}: expected WEVT block`, o);
  const messageId = v.u32(o + 8);
  const n = v.u32(o + 12);
  v.check(o + 16, n * 8, `provider ${guid} element list (${n} entries)`);
  const p: WevtProvider = {
    guid,
    offset: o,
    messageId,
    elements: [],
    channels: [],
    levels: [],
    tasks: [],
    opcodes: [],
    keywords: [],
    maps: [],
    templates: [],
    events: [],
    attributes: [],
    skipped: [],
  };
  for (let i = 0; i < n; i++) {
    const type = v.u32(o + 16 + i * 8);
    const at = v.u32(o + 20 + i * 8);
    const ref: WevtElementRef = { type, offset: at, magic: fourCC(v, at) };
    p.elements.push(ref);
    // Dispatch on the 4CC found at the offset; the type codes agree but the magic is authoritative.
    switch (ref.magic) {
      case "CHAN":
        p.channels.push(...channels(v, at));
        break;
      case "LEVL":
        p.levels.push(...levels(v, at));
        break;
      case "TASK":
        p.tasks.push(...tasks(v, at));
        break;
      case "OPCO":
        p.opcodes.push(...opcodes(v, at));
        break;
      case "KEYW":
        p.keywords.push(...keywords(v, at));
        break;
      case "MAPS":
        appendAll(p.maps, maps(v, at));
        break;
      case "TTBL":
        appendAll(p.templates, templates(v, at));
        break;
      case "EVNT":
        appendAll(p.events, events(v, at));
        break;
      case "PRVA":
        p.attributes.push(...attributes(v, at));
        break;
      default:
        p.skipped.push(ref.magic.replace(/[^\x20-\x7e]/g, "?"));
    }
  }
  p.name = p.attributes.find((a) => a.id === PRVA_PROVIDER_NAME)?.value;
  return p;
}

function channels(v: CrimView, o: number): WevtChannel[] {
  const n = listHeader(v, o, "CHAN", 16);
  return Array.from({ length: n }, (_, i) => {
    const e = o + 12 + i * 16;
    return {
      offset: e,
      flags: v.u32(e),
      name: optionalString(v, v.u32(e + 4), "channel name"),
      value: v.u32(e + 8),
      messageId: v.u32(e + 12),
    };
  });
}

function levels(v: CrimView, o: number): WevtLevel[] {
  const n = listHeader(v, o, "LEVL", 12);
  return Array.from({ length: n }, (_, i) => {
    const e = o + 12 + i * 12;
    return {
      offset: e,
      value: v.u32(e),
      messageId: v.u32(e + 4),
      name: optionalString(v, v.u32(e + 8), "level name"),
    };
  });
}

function tasks(v: CrimView, o: number): WevtTask[] {
  const n = listHeader(v, o, "TASK", 28);
  return Array.from({ length: n }, (_, i) => {
    const e = o + 12 + i * 28;
    return {
      offset: e,
      value: v.u32(e),
      messageId: v.u32(e + 4),
      eventGuid: v.guid(e + 8),
      name: optionalString(v, v.u32(e + 24), "task name"),
    };
  });
}

function opcodes(v: CrimView, o: number): WevtOpcode[] {
  const n = listHeader(v, o, "OPCO", 12);
  return Array.from({ length: n }, (_, i) => {
    const e = o + 12 + i * 12;
    return {
      offset: e,
      task: v.u16(e),
      value: v.u16(e + 2),
      messageId: v.u32(e + 4),
      name: optionalString(v, v.u32(e + 8), "opcode name"),
    };
  });
}

function keywords(v: CrimView, o: number): WevtKeyword[] {
  const n = listHeader(v, o, "KEYW", 16);
  return Array.from({ length: n }, (_, i) => {
    const e = o + 12 + i * 16;
    return {
      offset: e,
      mask: v.u64(e),
      messageId: v.u32(e + 8),
      name: optionalString(v, v.u32(e + 12), "keyword name"),
    };
  });
}

function maps(v: CrimView, o: number): WevtMap[] {
  const n = listHeader(v, o, "MAPS", 4);
  const out: WevtMap[] = [];
  for (let i = 0; i < n; i++) {
    const m = v.u32(o + 12 + i * 4);
    const magic = fourCC(v, m);
    if (magic !== "VMAP" && magic !== "BMAP")
      throw new FormatError(F, `expected VMAP/BMAP, found "${magic}"`, m);
    const items = v.u32(m + 16);
    v.check(m + 20, items * 8, `${magic} items (${items})`);
    v.spend(items * 8, `${magic} items`, m);
    out.push({
      offset: m,
      kind: magic === "VMAP" ? "value" : "bitmap",
      name: optionalString(v, v.u32(m + 8), "map name"),
      entries: Array.from({ length: items }, (_, k) => ({
        value: v.u32(m + 20 + k * 8),
        messageId: v.u32(m + 24 + k * 8),
      })),
    });
  }
  return out;
}

function attributes(v: CrimView, o: number): WevtAttribute[] {
  const n = listHeader(v, o, "PRVA", 8);
  return Array.from({ length: n }, (_, i) => {
    const e = o + 12 + i * 8;
    // PRVA values are raw NUL-terminated UTF-16 (no size prefix).
    const at = v.u32(e + 4);
    let value = v.strings.get(at);
    if (value === undefined) v.strings.set(at, (value = v.utf16z(at, 4096).text));
    return { id: v.u32(e), value };
  });
}

function events(v: CrimView, o: number): WevtEvent[] {
  const n = listHeader(v, o, "EVNT", 48, 16);
  return Array.from({ length: n }, (_, i) => {
    const e = o + 16 + i * 48;
    const numKeywords = v.u32(e + 36);
    const kwAt = v.u32(e + 40);
    if (numKeywords > 0) v.check(kwAt, numKeywords * 4, `event keyword list (${numKeywords})`);
    v.spend(numKeywords * 4, "event keyword lists", e);
    return {
      offset: e,
      id: v.u16(e),
      version: v.u8(e + 2),
      channel: v.u8(e + 3),
      level: v.u8(e + 4),
      opcode: v.u8(e + 5),
      task: v.u16(e + 6),
      keywords: v.u64(e + 8),
      messageId: v.u32(e + 16),
      templateOffset: v.u32(e + 20),
      opcodeOffset: v.u32(e + 24),
      levelOffset: v.u32(e + 28),
      taskOffset: v.u32(e + 32),
      keywordOffsets: Array.from({ length: numKeywords }, (_, k) => v.u32(kwAt + k * 4)),
      channelOffset: v.u32(e + 44),
    };
  });
}

function templates(v: CrimView, o: number): WevtTemplate[] {
  const n = listHeader(v, o, "TTBL", 40);
  const out: WevtTemplate[] = [];
  let t = o + 12;
  for (let i = 0; i < n; i++) {
    if (fourCC(v, t) !== "TEMP") throw new FormatError(F, `expected TEMP record ${i} of ${n}`, t);
    const length = v.u32(t + 4);
    if (length < 40) throw new FormatError(F, `TEMP length ${length} is smaller than its header`, t + 4);
    v.check(t, length, "TEMP record");
    out.push(template(v, t, length));
    t += length;
  }
  return out;
}

function template(v: CrimView, t: number, length: number): WevtTemplate {
  const paramCount = v.u32(t + 8);
  const propCount = v.u32(t + 12);
  const propAt = v.u32(t + 16);
  const end = t + length;
  const bodyEnd = propCount > 0 ? propAt : propAt > t + 40 && propAt <= end ? propAt : end;
  if (bodyEnd < t + 40 || bodyEnd > end)
    throw new FormatError(F, `TEMP property offset 0x${propAt.toString(16)} outside the record`, t + 16);
  if (paramCount > propCount)
    throw new FormatError(F, `TEMP has ${paramCount} params but ${propCount} properties`, t + 8);
  v.check(propAt, propCount * 20, `TEMP properties (${propCount})`);
  v.spend(propCount * 20, "TEMP properties", t);
  const raw = Array.from({ length: propCount }, (_, i) => rawProperty(v, propAt + i * 20, i));
  // Each property appears once in the tree; shared member ranges would multiply the work.
  const placed = new Set<number>();
  const build = (index: number, depth: number): WevtProperty => {
    const r = raw[index]!;
    if (depth > MAX_STRUCT_DEPTH) throw new FormatError(F, "struct members nested too deeply", r.at);
    if (placed.has(index)) throw new FormatError(F, `property ${index} is a member twice`, r.at);
    placed.add(index);
    const p: WevtProperty = { index, flags: r.flags, name: r.name };
    const ref = (slot: number): string => {
      const target = raw[slot];
      if (!target) throw new FormatError(F, `property "${r.name}" refers to missing property ${slot}`, r.at);
      return target.name;
    };
    if (r.flags & PROP_STRUCT) {
      const start = v.u16(r.at + 4);
      const members = v.u16(r.at + 6);
      if (start + members > propCount || (start <= index && index < start + members))
        throw new FormatError(F, `struct "${r.name}" members ${start}+${members} out of range`, r.at);
      p.members = Array.from({ length: members }, (_, k) => build(start + k, depth + 1));
    } else {
      p.inType = v.u8(r.at + 4);
      p.outType = v.u8(r.at + 5);
      const map = v.u32(r.at + 8);
      if (map !== 0) p.mapOffset = map;
    }
    const count = v.u16(r.at + 12);
    const len = v.u16(r.at + 14);
    if (r.flags & PROP_VAR_COUNT) p.count = ref(count);
    else if (r.flags & PROP_FIXED_COUNT) p.count = count;
    if (r.flags & PROP_VAR_LENGTH) p.length = ref(len);
    else if (r.flags & PROP_FIXED_LENGTH) p.length = len;
    return p;
  };
  const properties = Array.from({ length: paramCount }, (_, i) => build(i, 0));
  const body = v.slice(t + 40, bodyEnd - (t + 40), "TEMP BinXML");
  return {
    offset: t,
    guid: v.guid(t + 24),
    flags: v.u32(t + 20),
    paramCount,
    properties,
    xml: body.length > 0 ? parseBinXml(body, t + 40) : undefined,
  };
}

function rawProperty(v: CrimView, at: number, index: number): { at: number; flags: number; name: string } {
  return { at, flags: v.u32(at), name: optionalString(v, v.u32(at + 16), `property ${index} name`) };
}
