/**
 * Builds API-set schema bytes (versions 2, 4, 6) from a list of contracts, laid out as the public
 * descriptions give them, so the parser is tested on layouts no corpus file has.
 */
export interface SyntheticContract {
  /** Full contract name without `.dll`, e.g. `api-ms-win-core-file-l1-2-0`. */
  name: string;
  /** Default host first; `importer` set = an exception for that importing module. */
  hosts: Array<{ host: string; importer?: string }>;
}

class Out {
  bytes: number[] = [];
  u32s(vs: number[]): void {
    for (const v of vs) this.u32(v);
  }
  setU32s(at: number, vs: number[]): void {
    vs.forEach((v, k) => {
      this.setU32(at + k * 4, v);
    });
  }
  u32(v: number): void {
    this.bytes.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }
  setU32(at: number, v: number): void {
    this.bytes[at] = v & 0xff;
    this.bytes[at + 1] = (v >>> 8) & 0xff;
    this.bytes[at + 2] = (v >>> 16) & 0xff;
    this.bytes[at + 3] = (v >>> 24) & 0xff;
  }
  /** Appends a UTF-16LE string; returns [offset, byte length]. */
  str(s: string): [number, number] {
    const at = this.bytes.length;
    for (const ch of s) {
      const c = ch.charCodeAt(0);
      this.bytes.push(c & 0xff, c >>> 8);
    }
    return [at, s.length * 2];
  }
}

export function buildApiSetSchema(version: 2 | 4 | 6, contracts: SyntheticContract[]): Uint8Array {
  const o = new Out();
  const strip = (n: string) => (version === 6 ? n : n.replace(/^api-/, ""));
  if (version === 6) {
    o.u32s([6, 0, 0, contracts.length, 28, 0, 31]);
    const entries = o.bytes.length;
    for (let i = 0; i < contracts.length * 6; i++) o.u32(0);
    contracts.forEach((c, i) => {
      const e = entries + i * 24;
      const [no, nl] = o.str(c.name);
      const values = o.bytes.length;
      for (let j = 0; j < c.hosts.length * 5; j++) o.u32(0);
      c.hosts.forEach((h, j) => {
        const v = values + j * 20;
        const [io, il] = h.importer ? o.str(h.importer) : [0, 0];
        const [ho, hl] = o.str(h.host);
        o.setU32s(v, [0, io, il, ho, hl]);
      });
      o.setU32s(e, [1, no, nl, c.name.lastIndexOf("-") * 2, values, c.hosts.length]);
    });
    o.setU32(4, o.bytes.length);
  } else {
    const entrySize = version === 4 ? 24 : 12;
    const header = version === 4 ? 16 : 8;
    if (version === 4) o.u32s([4, 0, 0, contracts.length]);
    else o.u32s([2, contracts.length]);
    for (let i = 0; i < (contracts.length * entrySize) / 4; i++) o.u32(0);
    contracts.forEach((c, i) => {
      const e = header + i * entrySize;
      const [no, nl] = o.str(strip(c.name));
      const data = o.bytes.length;
      if (version === 4) o.u32(0);
      o.u32(c.hosts.length);
      const vsize = version === 4 ? 20 : 16;
      const values = o.bytes.length;
      for (let j = 0; j < (c.hosts.length * vsize) / 4; j++) o.u32(0);
      c.hosts.forEach((h, j) => {
        const v = values + j * vsize;
        const [io, il] = h.importer ? o.str(h.importer) : [0, 0];
        const [ho, hl] = o.str(h.host);
        o.setU32s(v, version === 4 ? [0, io, il, ho, hl] : [io, il, ho, hl]);
      });
      o.setU32s(e, version === 4 ? [0, no, nl, 0, 0, data] : [no, nl, data]);
    });
  }
  return Uint8Array.from(o.bytes);
}
