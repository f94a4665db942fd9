/**
 * Descriptors picked from a table at run time: the write's descriptor argument is computed as
 * `lea reg, [T + i*16]` (a table of EVENT_DESCRIPTORs) or loaded as `mov reg, [T + i*8]` (a table of
 * pointers to them). A constant index on the path resolves to one entry; otherwise the site is
 * reported once with every entry of the table ("one of N descriptors in table T"), never a guess.
 *
 * A table's extent is the run of consecutive entries whose 16 bytes are descriptors of the image's
 * own WEVT_TEMPLATE (without one, no table is claimed).
 */
import { findResources, type PeImage, resourceData } from "../../formats/pe/index.js";
import { parseCrim } from "../../formats/wevt/index.js";
import { FormatError } from "../../util/errors.js";
import { Flow, gpr64, M, Op, Reg } from "../disasm.js";
import type { AnalysisContext, EventDescriptor, SiteEvent } from "./types.js";

/** Entries read from one table, at most. */
const MAX_ENTRIES = 512;
/** Instructions looked back from the call for the definition of the descriptor register. */
const LOOKBACK = 24;

export interface TableDescriptor {
  /** RVA of the table's first entry. */
  tableRva: number;
  /** Rva of each entry's descriptor, in table order. */
  entries: number[];
  /** Entries a constant index selects (all resolved indices), when the index is constant on every path. */
  selected?: number[];
}

const ownDescriptors = new WeakMap<PeImage, Set<string>>();

/** The 16-byte descriptors (hex) of the image's own WEVT_TEMPLATE events. */
export function wevtDescriptorSet(pe: PeImage): Set<string> {
  let set = ownDescriptors.get(pe);
  if (set) return set;
  set = new Set();
  try {
    for (const leaf of findResources(pe, "WEVT_TEMPLATE"))
      for (const p of parseCrim(resourceData(pe, leaf)).providers)
        for (const e of p.events) {
          const b = new Uint8Array(16);
          const dv = new DataView(b.buffer);
          dv.setUint16(0, e.id, true);
          b[2] = e.version;
          b[3] = e.channel;
          b[4] = e.level;
          b[5] = e.opcode;
          dv.setUint16(6, e.task, true);
          dv.setBigUint64(8, BigInt.asUintN(64, e.keywords), true);
          set.add(hex(b));
        }
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
  }
  ownDescriptors.set(pe, set);
  return set;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/**
 * The table behind argument `arg` (0..3) of the call at instruction `site`, when that register is
 * computed from a table base plus an index just before the call.
 */
export function tableDescriptor(
  ctx: AnalysisContext,
  site: number,
  arg: number,
): TableDescriptor | undefined {
  const own = wevtDescriptorSet(ctx.pe);
  if (own.size === 0 || arg > 3) return undefined;
  const c = ctx.code;
  const want = [Reg.RCX, Reg.RDX, Reg.R8, Reg.R9][arg]!;
  for (let j = site - 1; j >= Math.max(0, site - LOOKBACK); j--) {
    const fl = c.flow[j]!;
    if (fl === Flow.Call || fl === Flow.IndirectCall || fl === Flow.Return) return undefined;
    if (c.op0[j] !== Op.Reg || gpr64(c.reg0[j]!) !== want) continue;
    const m = c.mnem[j]!;
    if (c.op1[j] !== Op.Mem || c.memIndex[j] === 0 || c.memBase[j] === 0) return undefined;
    const pointers = m === M.Mov && c.memSize[j] === 8;
    if (m !== M.Lea && !pointers) return undefined;
    const bases = ctx.values.registerAt(j, gpr64(c.memBase[j]!));
    if (bases.length !== 1 || bases[0]!.k !== "addr") return undefined;
    const start = bases[0]!.rva + c.addr[j]!;
    const stride = pointers ? 8 : 16;
    const entryAt = (k: number): number | undefined => {
      if (!pointers) return start + 16 * k;
      const b = ctx.values.imageBytes(start + 8 * k, 8);
      return b ? ctx.pe.vaToRva(new DataView(b.buffer).getBigUint64(0, true)) : undefined;
    };
    const entries: number[] = [];
    for (let k = 0; k < MAX_ENTRIES; k++) {
      const rva = entryAt(k);
      const b = rva !== undefined ? ctx.values.imageBytes(rva, 16) : undefined;
      if (rva === undefined || !b || !own.has(hex(b))) break;
      entries.push(rva);
    }
    if (entries.length === 0) return undefined;
    const out: TableDescriptor = { tableRva: start, entries };
    // Index × scale is the byte offset (lea) or the slot offset (pointer table).
    const scale = c.memScale[j]!;
    const index = ctx.values.registerAt(j, gpr64(c.memIndex[j]!));
    if (index.every((v) => v.k === "imm")) {
      const picked = index.map((v) => Number((v as { v: bigint }).v) * scale);
      if (picked.every((off) => off % stride === 0 && off / stride < entries.length))
        out.selected = picked.map((off) => entries[off / stride]!);
    }
    return out;
  }
  return undefined;
}

/**
 * Events of a write whose descriptor comes from a table: the selected entries (constant index), or
 * one event listing every entry as a candidate.
 */
export function tableEvents(
  ctx: AnalysisContext,
  t: TableDescriptor,
  atAddress: (rva: number) => SiteEvent,
  decode: (b: Uint8Array) => EventDescriptor,
): SiteEvent[] {
  if (t.selected) return [...new Set(t.selected)].map(atAddress);
  return [
    {
      kind: "manifest",
      tableRva: t.tableRva,
      candidates: t.entries.map((rva) => decode(ctx.values.imageBytes(rva, 16)!)),
    },
  ];
}
