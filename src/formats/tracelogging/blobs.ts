import { type ByteView, formatGuid } from "../../util/bytes.js";
import { FormatError } from "../../util/errors.js";
import {
  IN_CCOUNT,
  IN_CHAIN,
  IN_CUSTOM,
  IN_STRUCT,
  IN_TYPE_MASK,
  IN_VCOUNT,
  OUT_CHAIN,
  OUT_TYPE_MASK,
} from "./types.js";

/**
 * Decoders for single TraceLogging metadata blobs (`_TlgBlob_t` types 2–6) and the ETW
 * EventMetadata / ProviderMetadata structures inside them. All offsets are into the ByteView given;
 * callers turn them into RVAs.
 */

export const FORMAT = "tracelogging";

/** One field as declared in event metadata (struct members nested under their struct). */
export interface TlgField {
  name: string;
  /** TlgIn type (low 5 bits of the in-type byte). */
  inType: number;
  /** TlgOut type (low 7 bits), 0 when the field has none; for a struct, its member count. */
  outType: number;
  /** 28-bit field tag, when present. */
  tags?: number;
  /** `fixed`: element count in `count`; `variable`: u16 count precedes the data at run time. */
  array?: "fixed" | "variable";
  count?: number;
  /** Custom-serialized field (in-type flags 0x60): protocol = low 5 bits, schema bytes as hex. */
  custom?: { protocol: number; typeInfo: string };
  /** Struct members (in-type 24); their number was the struct's out-type byte. */
  fields?: TlgField[];
}

/** What an event's metadata declares, whichever blob layout carried it. */
export interface TlgEventDescriptor {
  /** 3 = Event3, 5 = Event2 (legacy, has task), 6 = Event4. */
  blobType: number;
  channel: number;
  level: number;
  opcode: number;
  /** Only in type-5 blobs. */
  task?: number;
  keyword: bigint;
  tags: number;
  name: string;
  fields: TlgField[];
}

export interface TlgEventBlob extends TlgEventDescriptor {
  /** Offset of the type byte and total blob length. */
  offset: number;
  size: number;
}

export interface TlgProviderBlob {
  /** 4 = Provider3 (with GUID), 2 = legacy provider without GUID. */
  blobType: number;
  offset: number;
  size: number;
  /** Offset of the RemainingSize field: what `_TlgProvider_t.ProviderMetadataPtr` points at. */
  metadataOffset: number;
  /** Lower-case GUID, "" for type 2. */
  guid: string;
  name: string;
  /** Provider traits (chunks): type 1 = provider group GUID. */
  traits: Array<{ type: number; data: string }>;
  groupGuid?: string;
}

/**
 * Decodes a 28-bit tag: 7 bits per byte, most significant first, bit 7 = more follows; bytes past
 * the 4th are reserved and skipped. Returns the tag and the offset after it.
 */
export function readTag(v: ByteView, o: number, end: number): { tag: number; end: number } {
  let tag = 0;
  for (let i = 0; ; i++) {
    if (o >= end) throw new FormatError(FORMAT, "tag runs past end of blob", o);
    const b = v.u8(o++);
    if (i < 4) tag = (tag | ((b & 0x7f) << (21 - 7 * i))) >>> 0;
    if ((b & 0x80) === 0) return { tag, end: o };
  }
}

/** UTF-8 NUL-terminated string that must end before `end`. */
function nameAt(v: ByteView, o: number, end: number, what: string): { text: string; end: number } {
  const lim = end - o;
  if (lim <= 0) throw new FormatError(FORMAT, `${what} runs past end of blob`, o);
  let z: number;
  try {
    z = v.cstrEnd(o, lim);
  } catch {
    throw new FormatError(FORMAT, `${what} is not NUL-terminated inside its blob`, o);
  }
  return { text: v.utf8z(o, lim), end: z + 1 };
}

/** Reads field definitions from `o` to exactly `end` and nests struct members. */
export function readFields(v: ByteView, o: number, end: number): TlgField[] {
  const flat: Array<{ field: TlgField; members: number }> = [];
  while (o < end) {
    const name = nameAt(v, o, end, "field name");
    o = name.end;
    if (o >= end) throw new FormatError(FORMAT, `field "${name.text}" has no in-type byte`, o);
    const inByte = v.u8(o++);
    const field: TlgField = { name: name.text, inType: inByte & IN_TYPE_MASK, outType: 0 };
    let members = 0;
    if (inByte & IN_CHAIN) {
      if (o >= end) throw new FormatError(FORMAT, `field "${name.text}" lacks its out-type byte`, o);
      const outByte = v.u8(o++);
      field.outType = outByte & OUT_TYPE_MASK;
      if (outByte & OUT_CHAIN) {
        const t = readTag(v, o, end);
        field.tags = t.tag;
        o = t.end;
      }
    }
    const arrayBits = inByte & IN_CUSTOM;
    if (arrayBits === IN_CCOUNT) {
      if (o + 2 > end) throw new FormatError(FORMAT, `field "${name.text}" lacks its fixed count`, o);
      field.array = "fixed";
      field.count = v.u16(o);
      o += 2;
    } else if (arrayBits === IN_VCOUNT) {
      field.array = "variable";
    } else if (arrayBits === IN_CUSTOM) {
      if (o + 2 > end) throw new FormatError(FORMAT, `custom field "${name.text}" lacks its schema size`, o);
      const size = v.u16(o);
      if (o + 2 + size > end)
        throw new FormatError(FORMAT, `custom field "${name.text}" schema (${size} bytes) overruns blob`, o);
      field.custom = { protocol: field.inType, typeInfo: hexBytes(v.slice(o + 2, size)) };
      o += 2 + size;
    }
    if (field.inType === IN_STRUCT && arrayBits !== IN_CUSTOM) {
      members = field.outType;
      if (members === 0) throw new FormatError(FORMAT, `struct "${name.text}" declares no members`, o);
      field.fields = [];
    }
    flat.push({ field, members });
  }
  if (o !== end) throw new FormatError(FORMAT, "field list overruns its blob", o);
  return nest(flat);
}

/** Turns the flat list into a tree: a struct owns the next `members` logical fields (recursively). */
function nest(flat: Array<{ field: TlgField; members: number }>): TlgField[] {
  let i = 0;
  const take = (): TlgField => {
    const item = flat[i++]!;
    for (let m = 0; m < item.members; m++) {
      if (i >= flat.length)
        throw new FormatError(
          FORMAT,
          `struct "${item.field.name}" declares ${item.members} members, fewer follow`,
        );
      item.field.fields!.push(take());
    }
    return item.field;
  };
  const out: TlgField[] = [];
  while (i < flat.length) out.push(take());
  return out;
}

function hexBytes(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** Reads the ETW EventMetadata structure (`u16 size; tags; name; fields`) at `o`, bounded by `limit`. */
export function readEventMetadata(
  v: ByteView,
  o: number,
  limit: number,
): { size: number; tags: number; name: string; fields: TlgField[] } {
  const size = v.u16(o);
  const end = o + size;
  if (size < 4) throw new FormatError(FORMAT, `event metadata size ${size} is too small`, o);
  if (end > limit) throw new FormatError(FORMAT, `event metadata (${size} bytes) runs past its section`, o);
  const tag = readTag(v, o + 2, end);
  const name = nameAt(v, tag.end, end, "event name");
  const fields = readFields(v, name.end, end);
  return { size, tags: tag.tag, name: name.text, fields };
}

/** Event blob of type 3/6 (channel, level, opcode, keyword) or 5 (level, opcode, task, keyword). */
export function readEventBlob(v: ByteView, o: number, limit: number): TlgEventBlob {
  const blobType = v.u8(o);
  if (blobType !== 3 && blobType !== 5 && blobType !== 6)
    throw new FormatError(FORMAT, `blob type ${blobType} is not an event`, o);
  // Type 5 has no channel byte (11 is implied) but a u16 task before the keyword.
  const legacy = blobType === 5;
  const metadataAt = legacy ? 13 : 12;
  const meta = readEventMetadata(v, o + metadataAt, limit);
  return {
    blobType,
    offset: o,
    size: metadataAt + meta.size,
    channel: legacy ? 11 : v.u8(o + 1),
    level: v.u8(o + (legacy ? 1 : 2)),
    opcode: v.u8(o + (legacy ? 2 : 3)),
    ...(legacy ? { task: v.u16(o + 3) } : {}),
    keyword: v.u64(o + (legacy ? 5 : 4)),
    tags: meta.tags,
    name: meta.name,
    fields: meta.fields,
  };
}

/** Reads ETW ProviderMetadata (`u16 size; name; trait chunks`) at `o`. */
export function readProviderMetadata(
  v: ByteView,
  o: number,
  limit: number,
): { size: number; name: string; traits: Array<{ type: number; data: string }>; groupGuid?: string } {
  const size = v.u16(o);
  const end = o + size;
  if (size < 3) throw new FormatError(FORMAT, `provider metadata size ${size} is too small`, o);
  if (end > limit)
    throw new FormatError(FORMAT, `provider metadata (${size} bytes) runs past its section`, o);
  const name = nameAt(v, o + 2, end, "provider name");
  const traits: Array<{ type: number; data: string }> = [];
  let groupGuid: string | undefined;
  let p = name.end;
  while (p < end) {
    if (p + 3 > end) throw new FormatError(FORMAT, "provider trait header overruns blob", p);
    const chunkSize = v.u16(p);
    const type = v.u8(p + 2);
    if (chunkSize < 3 || p + chunkSize > end)
      throw new FormatError(FORMAT, `provider trait size ${chunkSize} is invalid`, p);
    const data = v.slice(p + 3, chunkSize - 3);
    traits.push({ type, data: hexBytes(data) });
    if (type === 1 && data.length >= 16) groupGuid = formatGuid(data);
    p += chunkSize;
  }
  return { size, name: name.text, traits, ...(groupGuid ? { groupGuid } : {}) };
}

/** Provider blob of type 4 (`type; GUID; metadata`) or 2 (`type; metadata`). */
export function readProviderBlob(v: ByteView, o: number, limit: number): TlgProviderBlob {
  const blobType = v.u8(o);
  if (blobType !== 2 && blobType !== 4)
    throw new FormatError(FORMAT, `blob type ${blobType} is not a provider`, o);
  const metadataOffset = blobType === 4 ? o + 17 : o + 1;
  const guid = blobType === 4 ? v.guid(o + 1) : "";
  const meta = readProviderMetadata(v, metadataOffset, limit);
  return {
    blobType,
    offset: o,
    size: metadataOffset - o + meta.size,
    metadataOffset,
    guid,
    name: meta.name,
    traits: meta.traits,
    ...(meta.groupGuid ? { groupGuid: meta.groupGuid } : {}),
  };
}
