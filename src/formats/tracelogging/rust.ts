import type { ByteView } from "../../util/bytes.js";
import { FormatError } from "../../util/errors.js";
import { readEventMetadata, readProviderMetadata, type TlgField } from "./blobs.js";

/**
 * rust_win_etw puts `.rdata$etw0` (header, optional) then `.rdata$etw1` (raw ETW EventMetadata:
 * u16 size, tags, name, fields) then `.rdata$etw2` (raw ProviderMetadata: u16 size, name, no GUID),
 * with no type bytes and no End blob. Walk that shape: events, then providers, until a record does
 * not parse; only a walk that ends on at least one provider counts as this layout. Events are told
 * from providers by their tag byte, which rust_win_etw always writes as 0.
 */
export interface RustLayout {
  events: Array<{ offset: number; size: number; tags: number; name: string; fields: TlgField[] }>;
  providers: Array<{
    offset: number;
    size: number;
    name: string;
    traits: Array<{ type: number; data: string }>;
    groupGuid?: string;
  }>;
  end: number;
}

const MAX_RECORDS = 100000;

export function walkRustLayout(v: ByteView, start: number, limit: number): RustLayout | undefined {
  const out: RustLayout = { events: [], providers: [], end: start };
  let o = start;
  for (let n = 0; n < MAX_RECORDS && o + 2 <= limit; n++) {
    // Skip alignment padding; a record whose size is a multiple of 256 also starts with a 0 byte.
    while (o + 2 <= limit && v.u8(o) === 0 && (v.u8(o + 1) === 0 || !parsesAsRecord(v, o, limit))) o++;
    if (o + 2 > limit) break;
    // rust_win_etw always writes an empty tag list (one 0 byte) in events; a provider name follows
    // its size directly and is never empty, which tells the two record kinds apart.
    if (out.providers.length === 0 && o + 2 < limit && v.u8(o + 2) === 0) {
      const ev = tryRead(() => readEventMetadata(v, o, limit));
      if (ev && looksLikeName(ev.name)) {
        out.events.push({ offset: o, size: ev.size, tags: ev.tags, name: ev.name, fields: ev.fields });
        o += ev.size;
        out.end = o;
        continue;
      }
    }
    const pr = tryRead(() => readProviderMetadata(v, o, limit));
    if (!pr || !looksLikeName(pr.name)) break;
    out.providers.push({
      offset: o,
      size: pr.size,
      name: pr.name,
      traits: pr.traits,
      ...(pr.groupGuid ? { groupGuid: pr.groupGuid } : {}),
    });
    o += pr.size;
    out.end = o;
  }
  return out.providers.length > 0 ? out : undefined;
}

function parsesAsRecord(v: ByteView, o: number, limit: number): boolean {
  return (
    tryRead(() => readEventMetadata(v, o, limit)) !== undefined ||
    tryRead(() => readProviderMetadata(v, o, limit)) !== undefined
  );
}

function tryRead<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (err) {
    if (err instanceof FormatError) return undefined;
    throw err;
  }
}

/** Names are printable identifiers; rejects random bytes that happen to parse. */
function looksLikeName(s: string): boolean {
  return s.length > 0 && !/[\u0000-\u001f\ufffd]/.test(s);
}
