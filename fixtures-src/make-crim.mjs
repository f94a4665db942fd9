// Writes a minimal compiled manifest (CRIM blob for a WEVT_TEMPLATE resource) holding the events of
// an expected.json "wevt" list: per provider a WEVT block with one EVNT table (48-byte entries, no
// names, templates, or maps). Layout as read by src/formats/wevt/crim.ts (docs/formats/wevt.md).
// Usage: node make-crim.mjs recall_patterns.expected.json out.crim
import { readFileSync, writeFileSync } from "node:fs";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const byProvider = new Map();
for (const e of spec.wevt) {
  if (!byProvider.has(e.provider)) byProvider.set(e.provider, []);
  byProvider.get(e.provider).push(e);
}
const guidBytes = (g) => {
  const h = g.replace(/-/g, "");
  const raw = Buffer.from(h, "hex");
  return Buffer.concat([Buffer.from([raw[3], raw[2], raw[1], raw[0], raw[5], raw[4], raw[7], raw[6]]), raw.subarray(8)]);
};
const providers = [...byProvider.entries()];
const blocks = [];
let at = 16 + 20 * providers.length;
const directory = Buffer.alloc(20 * providers.length);
providers.forEach(([name, events], i) => {
  const wevt = Buffer.alloc(16 + 8);
  const evnt = Buffer.alloc(16 + 48 * events.length);
  wevt.write("WEVT", 0, "latin1");
  wevt.writeUInt32LE(wevt.length + evnt.length, 4);
  wevt.writeUInt32LE(0xffffffff, 8); // message id: none
  wevt.writeUInt32LE(1, 12); // one element
  wevt.writeUInt32LE(4, 16); // EVNT
  wevt.writeUInt32LE(at + wevt.length, 20);
  evnt.write("EVNT", 0, "latin1");
  evnt.writeUInt32LE(evnt.length, 4);
  evnt.writeUInt32LE(events.length, 8);
  events.forEach((e, k) => {
    const o = 16 + 48 * k;
    evnt.writeUInt16LE(e.id, o);
    evnt[o + 2] = e.version;
    evnt[o + 3] = e.channel;
    evnt[o + 4] = e.level;
    evnt[o + 5] = e.opcode;
    evnt.writeUInt16LE(e.task, o + 6);
    evnt.writeBigUInt64LE(BigInt(e.keyword), o + 8);
    evnt.writeUInt32LE(0xffffffff, o + 16); // message id: none
  });
  guidBytes(spec.providers[name]).copy(directory, 20 * i);
  directory.writeUInt32LE(at, 20 * i + 16);
  blocks.push(wevt, evnt);
  at += wevt.length + evnt.length;
});
const header = Buffer.alloc(16);
header.write("CRIM", 0, "latin1");
header.writeUInt32LE(at, 4);
header.writeUInt16LE(3, 8);
header.writeUInt16LE(1, 10);
header.writeUInt32LE(providers.length, 12);
writeFileSync(process.argv[3], Buffer.concat([header, directory, ...blocks]));
