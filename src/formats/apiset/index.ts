/**
 * The API-set schema: the `.apiset` section of apisetschema.dll maps virtual DLL names
 * (`api-ms-win-core-file-l1-2-0.dll`, `ext-ms-win-*`) to the DLL that hosts them, with per-importer
 * exceptions. Schema versions 2 (Windows 7), 4 (8.1) and 6 (10/11); version 6 checked on a real
 * file, 2 and 4 on synthetic bytes laid out as the public descriptions give them
 * (docs/formats/apiset.md).
 */
import { FormatError } from "../../util/errors.js";
import type { PeImage } from "../pe/index.js";

export interface ApiSetHost {
  /** The importing module this value is for; absent = the default host. */
  importer?: string;
  /** Host DLL (may be empty: the contract has no host in this build). */
  host: string;
}

export interface ApiSetEntry {
  /** Contract name, lower case, without `.dll` (v2/v4 add the `api-` prefix they leave out). */
  name: string;
  /** Number of leading characters that identify the contract (v6: up to the last hyphen). */
  hashedLength: number;
  sealed: boolean;
  hosts: ApiSetHost[];
}

export interface ApiSetSchema {
  version: 2 | 4 | 6;
  entries: ApiSetEntry[];
}

/** More entries than any real schema holds (Windows 11: about 1,000). */
const MAX_ENTRIES = 100000;
const MAX_VALUES = 1024;

class Reader {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u32(off: number, what: string): number {
    if (off < 0 || off + 4 > this.bytes.length)
      throw new FormatError("apiset", `${what} at 0x${off.toString(16)} is outside the schema`, off);
    return this.view.getUint32(off, true);
  }
  utf16(off: number, len: number, what: string): string {
    if (len % 2 !== 0 || len > 4096 || off < 0 || off + len > this.bytes.length)
      throw new FormatError(
        "apiset",
        `${what}: bad string (offset 0x${off.toString(16)}, ${len} bytes)`,
        off,
      );
    let s = "";
    for (let i = 0; i < len; i += 2) s += String.fromCharCode(this.view.getUint16(off + i, true));
    return s;
  }
}

function count(n: number, max: number, what: string, off: number): number {
  if (n > max) throw new FormatError("apiset", `implausible ${what} ${n}`, off);
  return n;
}

/** Parses the contents of the `.apiset` section (offsets are relative to its start). */
export function parseApiSetSchema(bytes: Uint8Array): ApiSetSchema {
  const r = new Reader(bytes);
  const version = r.u32(0, "schema version");
  if (version === 6) return { version, entries: parseV6(r) };
  if (version === 4) return { version, entries: parseV4(r) };
  if (version === 2) return { version, entries: parseV2(r) };
  throw new FormatError("apiset", `unknown schema version ${version} (known: 2, 4, 6)`, 0);
}

/** v6: header {Version, Size, Flags, Count, EntryOffset, HashOffset, HashFactor}; 24-byte entries. */
function parseV6(r: Reader): ApiSetEntry[] {
  const n = count(r.u32(12, "entry count"), MAX_ENTRIES, "entry count", 12);
  const entryOffset = r.u32(16, "entry offset");
  const out: ApiSetEntry[] = [];
  for (let i = 0; i < n; i++) {
    const e = entryOffset + i * 24;
    const flags = r.u32(e, "entry flags");
    const name = r.utf16(r.u32(e + 4, "name offset"), r.u32(e + 8, "name length"), `entry ${i} name`);
    const hashedLength = r.u32(e + 12, "hashed length") / 2;
    const valueOffset = r.u32(e + 16, "value offset");
    const nv = count(r.u32(e + 20, "value count"), MAX_VALUES, `value count of ${name}`, e + 20);
    const hosts: ApiSetHost[] = [];
    for (let j = 0; j < nv; j++) {
      const v = valueOffset + j * 20;
      hosts.push(
        host(
          r.utf16(r.u32(v + 4, "importer offset"), r.u32(v + 8, "importer length"), `${name} importer`),
          r.utf16(r.u32(v + 12, "host offset"), r.u32(v + 16, "host length"), `${name} host`),
        ),
      );
    }
    out.push({ name: name.toLowerCase(), hashedLength, sealed: (flags & 1) !== 0, hosts });
  }
  return out;
}

/** v4: header {Version, Size, Flags, Count}; 24-byte entries; value arrays {Flags, Count, 20-byte values}. */
function parseV4(r: Reader): ApiSetEntry[] {
  const n = count(r.u32(12, "entry count"), MAX_ENTRIES, "entry count", 12);
  const out: ApiSetEntry[] = [];
  for (let i = 0; i < n; i++) {
    const e = 16 + i * 24;
    const flags = r.u32(e, "entry flags");
    const name = withPrefix(
      r.utf16(r.u32(e + 4, "name offset"), r.u32(e + 8, "name length"), `entry ${i} name`),
    );
    const data = r.u32(e + 20, "value array offset");
    const nv = count(r.u32(data + 4, "value count"), MAX_VALUES, `value count of ${name}`, data + 4);
    const hosts: ApiSetHost[] = [];
    for (let j = 0; j < nv; j++) {
      const v = data + 8 + j * 20;
      hosts.push(
        host(
          r.utf16(r.u32(v + 4, "importer offset"), r.u32(v + 8, "importer length"), `${name} importer`),
          r.utf16(r.u32(v + 12, "host offset"), r.u32(v + 16, "host length"), `${name} host`),
        ),
      );
    }
    out.push({ ...named(name), sealed: (flags & 1) !== 0, hosts });
  }
  return out;
}

/** v2: header {Version, Count}; 12-byte entries; value arrays {Count, 16-byte values}. */
function parseV2(r: Reader): ApiSetEntry[] {
  const n = count(r.u32(4, "entry count"), MAX_ENTRIES, "entry count", 4);
  const out: ApiSetEntry[] = [];
  for (let i = 0; i < n; i++) {
    const e = 8 + i * 12;
    const name = withPrefix(r.utf16(r.u32(e, "name offset"), r.u32(e + 4, "name length"), `entry ${i} name`));
    const data = r.u32(e + 8, "value array offset");
    const nv = count(r.u32(data, "value count"), MAX_VALUES, `value count of ${name}`, data);
    const hosts: ApiSetHost[] = [];
    for (let j = 0; j < nv; j++) {
      const v = data + 4 + j * 16;
      hosts.push(
        host(
          r.utf16(r.u32(v, "importer offset"), r.u32(v + 4, "importer length"), `${name} importer`),
          r.utf16(r.u32(v + 8, "host offset"), r.u32(v + 12, "host length"), `${name} host`),
        ),
      );
    }
    out.push({ ...named(name), sealed: false, hosts });
  }
  return out;
}

/** v2/v4 store `api-` contracts without that prefix (`ms-win-core-...`). */
function withPrefix(name: string): string {
  return /^ext-/i.test(name) ? name : `api-${name}`;
}

/** v2/v4 names carry the version suffix the loader ignores past the last hyphen. */
function named(name: string): { name: string; hashedLength: number } {
  const lower = name.toLowerCase();
  return { name: lower, hashedLength: lower.lastIndexOf("-") > 0 ? lower.lastIndexOf("-") : lower.length };
}

function host(importer: string, hostName: string): ApiSetHost {
  return importer
    ? { importer: importer.toLowerCase(), host: hostName.toLowerCase() }
    : { host: hostName.toLowerCase() };
}

/** True for a DLL name the loader resolves through the schema. */
export function isApiSetName(dll: string): boolean {
  return /^(api|ext)-/i.test(dll);
}

/**
 * The host DLL of a contract as the loader picks it: the entry whose identifying prefix (the name
 * up to the last hyphen, i.e. without the minor version) matches, then the importer's exception,
 * else the default value. Undefined when the schema has no such contract or no host.
 */
export function resolveApiSet(schema: ApiSetSchema, dll: string, importer?: string): string | undefined {
  const index = apiSetIndex(schema);
  const name = dll.toLowerCase().replace(/\.dll$/, "");
  const cut = name.lastIndexOf("-");
  const entry = index.get(cut > 0 ? name.slice(0, cut) : name);
  if (!entry) return undefined;
  const imp = importer?.toLowerCase();
  const special = imp ? entry.hosts.find((h) => h.importer === imp) : undefined;
  const chosen = special ?? entry.hosts.find((h) => h.importer === undefined) ?? entry.hosts[0];
  return chosen?.host ? chosen.host : undefined;
}

const indexes = new WeakMap<ApiSetSchema, Map<string, ApiSetEntry>>();

function apiSetIndex(schema: ApiSetSchema): Map<string, ApiSetEntry> {
  let m = indexes.get(schema);
  if (!m) {
    m = new Map();
    for (const e of schema.entries) m.set(e.name.slice(0, e.hashedLength), e);
    indexes.set(schema, m);
  }
  return m;
}

/** The schema of an apisetschema.dll image (its `.apiset` section), or undefined when it has none. */
export function readApiSetSchema(pe: PeImage): ApiSetSchema | undefined {
  const s = pe.sections.find((x) => x.name === ".apiset");
  return s ? parseApiSetSchema(pe.sectionBytes(s)) : undefined;
}
