#!/usr/bin/env node
// Puts S_ANNOTATION records back into an lld-link-14 PDB.
//
// lld-link 14 cannot remap S_ANNOTATION (0x1019) records and writes an S_SKIP of the same size in
// their place (log: "ignoring unknown symbol record with kind 0x1019"). MSVC's linker keeps them,
// and WPP's TMF metadata lives in them, so for the WPP fixtures we copy each annotation record from
// the .obj into the S_SKIP slot it left behind, with its address relocated the way a linker would:
// annotation address = enclosing procedure's address (from the PDB) + the annotation's offset from
// that procedure's start (from the .obj's relocations). Every slot is checked (same enclosing
// procedure name, same record size) before anything is written.
//
// usage: node restore-annotations.mjs <file.obj> <file.pdb>
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";

const [objPath, pdbPath] = process.argv.slice(2);
if (!objPath || !pdbPath) {
  console.error("usage: restore-annotations.mjs <file.obj> <file.pdb>");
  process.exit(2);
}

const S_END = 0x0006;
const S_SKIP = 0x0007;
const S_ANNOTATION = 0x1019;
const S_PROC_ID_END = 0x114f;
const PROC_KINDS = new Set([0x1110, 0x110f, 0x1147, 0x1146]);
const SCOPE_KINDS = new Set([0x1103, 0x1102, 0x114d]); // block, thunk, inline site
const SCOPE_ENDS = new Set([S_END, S_PROC_ID_END, 0x114e]);

const cstr = (b, o) => {
  const e = b.indexOf(0, o);
  return b.subarray(o, e < 0 ? b.length : e).toString("latin1");
};

// ---- .obj: annotation records with their offsets from the enclosing procedure -------------------
function objAnnotations(path) {
  const b = readFileSync(path);
  const nSections = b.readUInt16LE(2);
  const symtab = b.readUInt32LE(8);
  const nSymbols = b.readUInt32LE(12);
  const secBase = 20 + b.readUInt16LE(16);
  const sections = [];
  for (let i = 0; i < nSections; i++) {
    const h = secBase + i * 40;
    sections.push({
      name: cstr(b.subarray(h, h + 8), 0),
      raw: b.readUInt32LE(h + 20),
      size: b.readUInt32LE(h + 16),
      relocs: b.readUInt32LE(h + 24),
      nRelocs: b.readUInt16LE(h + 32),
    });
  }
  const symbol = (i) => {
    const o = symtab + i * 18;
    return { value: b.readUInt32LE(o + 8), section: b.readInt16LE(o + 12) };
  };
  const out = [];
  for (const s of sections.filter((x) => x.name === ".debug$S")) {
    const relocAt = new Map();
    for (let r = 0; r < s.nRelocs; r++) {
      const o = s.relocs + r * 10;
      relocAt.set(b.readUInt32LE(o), b.readUInt32LE(o + 4));
    }
    // Section-relative address a SECREL field refers to: (symbol section, symbol value + addend).
    const target = (fieldOff) => {
      const sym = relocAt.get(fieldOff);
      if (sym === undefined) throw new Error(`no relocation at .debug$S+0x${fieldOff.toString(16)}`);
      const t = symbol(sym);
      return { section: t.section, at: t.value + b.readUInt32LE(s.raw + fieldOff) };
    };
    if (b.readUInt32LE(s.raw) !== 4) continue;
    for (let p = 4; p + 8 <= s.size; ) {
      const kind = b.readUInt32LE(s.raw + p);
      const len = b.readUInt32LE(s.raw + p + 4);
      const start = p + 8;
      if (kind === 0xf1) {
        const stack = [];
        for (let r = start; r + 4 <= start + len; ) {
          const rlen = b.readUInt16LE(s.raw + r);
          const rkind = b.readUInt16LE(s.raw + r + 2);
          if (PROC_KINDS.has(rkind)) {
            stack.push({ proc: true, name: cstr(b, s.raw + r + 39), ...target(r + 32) });
          } else if (SCOPE_KINDS.has(rkind)) stack.push({ proc: false });
          else if (SCOPE_ENDS.has(rkind)) stack.pop();
          else if (rkind === S_ANNOTATION) {
            const proc = [...stack].reverse().find((x) => x.proc);
            if (!proc) throw new Error("annotation outside any procedure");
            const at = target(r + 4);
            if (at.section !== proc.section) throw new Error(`annotation in ${proc.name} is in another section`);
            out.push({ proc: proc.name, delta: at.at - proc.at, record: Buffer.from(b.subarray(s.raw + r, s.raw + r + 2 + rlen)) });
          }
          r += 2 + rlen;
        }
      }
      p = start + ((len + 3) & ~3);
    }
  }
  return out;
}

// ---- PDB: S_SKIP slots and writable stream mapping ----------------------------------------------
function msf(b) {
  const bs = b.readUInt32LE(32);
  const dirBytes = b.readUInt32LE(44);
  const mapBlock = b.readUInt32LE(52);
  const dirBlocks = [];
  for (let i = 0; i < Math.ceil(dirBytes / bs); i++) dirBlocks.push(b.readUInt32LE(mapBlock * bs + i * 4));
  const dir = Buffer.concat(dirBlocks.map((k) => b.subarray(k * bs, (k + 1) * bs))).subarray(0, dirBytes);
  const n = dir.readUInt32LE(0);
  const sizes = [];
  for (let i = 0; i < n; i++) sizes.push(dir.readUInt32LE(4 + i * 4));
  let o = 4 + n * 4;
  const blocks = sizes.map((sz) => {
    const list = [];
    for (let i = 0; i < (sz === 0xffffffff ? 0 : Math.ceil(sz / bs)); i++, o += 4) list.push(dir.readUInt32LE(o));
    return list;
  });
  const fileOffset = (stream, off) => blocks[stream][Math.floor(off / bs)] * bs + (off % bs);
  const read = (stream) =>
    Buffer.concat(blocks[stream].map((k) => b.subarray(k * bs, (k + 1) * bs))).subarray(0, sizes[stream]);
  return { read, fileOffset };
}

const objs = objAnnotations(objPath);
const pdb = readFileSync(pdbPath);
const m = msf(pdb);
const dbi = m.read(3);
const modEnd = 64 + dbi.readUInt32LE(24);
const want = basename(objPath).toLowerCase();
let restored = 0;
for (let p = 64; p < modEnd; ) {
  const stream = dbi.readUInt16LE(p + 34);
  const symBytes = dbi.readUInt32LE(p + 36);
  const name = cstr(dbi, p + 64);
  const objName = cstr(dbi, p + 64 + name.length + 1);
  p = (p + 64 + name.length + 1 + objName.length + 1 + 3) & ~3;
  if (basename(name.replace(/\\/g, "/")).toLowerCase() !== want || stream === 0xffff) continue;
  const mod = m.read(stream);
  const slots = [];
  const stack = [];
  for (let r = 4; r + 4 <= symBytes; ) {
    const rlen = mod.readUInt16LE(r);
    const rkind = mod.readUInt16LE(r + 2);
    if (PROC_KINDS.has(rkind))
      stack.push({ proc: true, name: cstr(mod, r + 39), off: mod.readUInt32LE(r + 32), seg: mod.readUInt16LE(r + 36) });
    else if (SCOPE_KINDS.has(rkind)) stack.push({ proc: false });
    else if (SCOPE_ENDS.has(rkind)) stack.pop();
    else if (rkind === S_SKIP) slots.push({ at: r, size: rlen + 2, proc: [...stack].reverse().find((x) => x.proc) });
    r += 2 + rlen;
  }
  if (slots.length !== objs.length)
    throw new Error(`${name}: ${slots.length} S_SKIP slots but ${objs.length} annotations in ${objPath}`);
  slots.forEach((slot, i) => {
    const a = objs[i];
    const aligned = (a.record.length + 3) & ~3;
    if (!slot.proc || slot.proc.name !== a.proc || slot.size !== aligned)
      throw new Error(`slot ${i}: S_SKIP in ${slot.proc?.name} (${slot.size} bytes) vs annotation in ${a.proc} (${aligned})`);
    const rec = Buffer.alloc(aligned);
    a.record.copy(rec);
    rec.writeUInt16LE(aligned - 2, 0);
    rec.writeUInt32LE(slot.proc.off + a.delta, 4);
    rec.writeUInt16LE(slot.proc.seg, 8);
    for (let k = 0; k < aligned; k++) pdb[m.fileOffset(stream, slot.at + k)] = rec[k];
    restored++;
  });
}
if (restored !== objs.length) throw new Error(`restored ${restored} of ${objs.length} annotations (module not found?)`);
writeFileSync(pdbPath, pdb);
console.log(`${basename(pdbPath)}: restored ${restored} S_ANNOTATION record(s)`);
