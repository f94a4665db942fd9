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
import { functionAt } from "../functions.js";
import type { Value } from "../values.js";
import type { AnalysisContext, EventDescriptor, SiteEvent } from "./types.js";

/** Entries read from one table, at most. */
const MAX_ENTRIES = 512;
/** Instructions looked back from the call for the definition of the descriptor register. */
const LOOKBACK = 24;
/** Multiplications followed back from a table's index register, at most. */
const MAX_SCALE_STEPS = 4;
/** Callers whose constant arguments may select table entries, at most. */
const MAX_CALLERS = 64;

export interface TableDescriptor {
  /** RVA of the table's first entry. */
  tableRva: number;
  /** Bytes from each element (or what each pointer names) to its descriptor, when not 0. */
  field?: number;
  /** Rva of each entry's descriptor, in table order. */
  entries: number[];
  /**
   * Entries a constant index selects, when it is constant on every path: with the call-site index of
   * the caller that passed the constant, when it came in as a parameter.
   */
  selected?: Array<{ entry: number; caller?: number }>;
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

/** Are the 16 bytes at rva one of the image's own WEVT_TEMPLATE descriptors? */
export function isOwnDescriptor(ctx: AnalysisContext, rva: number): boolean {
  const b = ctx.values.imageBytes(rva, 16);
  return b !== undefined && wevtDescriptorSet(ctx.pe).has(hex(b));
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/**
 * The table behind argument `arg` (0..3) of the call at instruction `site` (undefined: the call is
 * a wrapper's, reached through callers), when that register is computed from a table base plus an
 * index just before the call, or — `value`, the argument's
 * value — was computed or loaded by an indexed operand elsewhere on the paths to it (a pointer
 * loaded from a table, then kept in another register across branches and calls: combase.dll's
 * `lea rcx,[__ImageBase]; mov rbx,[rcx+rdx*8+T]; … mov rdx,rbx; call EventWriteEx`).
 */
export function tableDescriptor(
  ctx: AnalysisContext,
  site: number | undefined,
  arg: number,
  value?: Value,
): TableDescriptor | undefined {
  if (wevtDescriptorSet(ctx.pe).size === 0 || arg > 3) return undefined;
  // The value's own instruction first: it is the one on this value's paths (the straight line
  // before the call may belong to another path that only falls into the call's block).
  const valued = value === undefined ? undefined : tableOfValue(ctx, value);
  if (valued) return valued;
  const j = site === undefined ? undefined : lastWrite(ctx, site, [Reg.RCX, Reg.RDX, Reg.R8, Reg.R9][arg]!);
  return j === undefined ? undefined : tableAt(ctx, j, 0);
}

/**
 * The table a value names: an element address an indexed instruction computed (plus a field), or
 * the pointer loaded from such an element's field (`load` of it: a record's descriptor pointer).
 */
export function tableOfValue(ctx: AnalysisContext, v: Value): TableDescriptor | undefined {
  if (v.k === "unknown" && v.at !== undefined) return tableAt(ctx, v.at, v.off ?? 0);
  if (v.k === "load" && v.size === 8 && v.base.k === "unknown" && v.base.at !== undefined)
    return tableAt(ctx, v.base.at, (v.base.off ?? 0) + v.off, true);
  return undefined;
}

/**
 * The descriptor table instruction j indexes (`lea`/`mov` with an index, or an `add` of base and
 * scaled index), the descriptor `field` bytes into each element (or into what each pointer names).
 * Elements are 16 bytes apart (8 for pointers), or the index's scale apart when that is larger
 * (records: d3d11.dll's 38h-byte records of three descriptors, `imul rdx, rax, 38h`).
 */
function tableAt(ctx: AnalysisContext, j: number, field: number, deref = false): TableDescriptor | undefined {
  const own = wevtDescriptorSet(ctx.pe);
  const c = ctx.code;
  const m = c.mnem[j]!;
  let base: number;
  let index: { values: Value[]; scale: number };
  let pointers = false;
  if ((m === M.Lea || (m === M.Mov && c.memSize[j] === 8)) && c.op1[j] === Op.Mem && c.memIndex[j] !== 0) {
    // lea reg, [B + I*s + d] (descriptors) / mov reg, [B + I*s + d] (pointers to descriptors)
    pointers = m === M.Mov;
    const isAddr = (r: number): Extract<Value, { k: "addr" }> | undefined => {
      const b = r === 0 ? [] : ctx.values.registerAt(j, gpr64(r));
      return b.length === 1 && b[0]!.k === "addr" ? b[0] : undefined;
    };
    // With scale 1 either register may hold the table (clang: `lea rsi, [rax+rcx]`, rax the
    // scaled index); the other must then show its scale.
    let b = isAddr(c.memBase[j]!);
    let indexReg = c.memIndex[j]!;
    if (!b && c.memScale[j] === 1) {
      b = isAddr(c.memIndex[j]!);
      indexReg = c.memBase[j]!;
    }
    if (!b || indexReg === 0) return undefined;
    base = b.rva + c.addr[j]!;
    const i = scaledIndex(ctx, j, gpr64(indexReg));
    index = { values: i.values, scale: i.scale * c.memScale[j]! };
    if ((indexReg !== c.memIndex[j] && index.scale < 16) || index.scale === 0) return undefined;
  } else if (m === M.Add && c.op1[j] === Op.Reg) {
    // lea reg, [rip+T]; add reg, I*16 (clang), or the index first: imul rdx, rax, 38h; add rdx, rax
    const regs = [gpr64(c.reg0[j]!), gpr64(c.reg1[j]!)];
    const at = regs.findIndex((r) => {
      const b = ctx.values.registerAt(j, r);
      return b.length === 1 && b[0]!.k === "addr";
    });
    if (at < 0) return undefined;
    const b = ctx.values.registerAt(j, regs[at]!)[0] as Extract<Value, { k: "addr" }>;
    base = b.rva;
    index = scaledIndex(ctx, j, regs[1 - at]!);
    // A sum whose index scale is not seen (`add r8, rdx` with rdx computed elsewhere) has no
    // known element size: no table rather than a guessed one.
    if (index.scale < 16) return undefined;
  } else return undefined;
  // A pointer loaded from what a loaded pointer names is no table shape here.
  if (deref && pointers) return undefined;
  // Elements hold pointers (`mov r,[T+i*8]`, or the field of a record the write's caller picked
  // and the write reads: `deref`) or the descriptors themselves.
  const slots = pointers || deref;
  const stride = Math.max(slots ? 8 : 16, index.scale);
  /** Where element k's pointer or descriptor sits. */
  const slotOf = (k: number): number => (pointers ? base + stride * k : base + stride * k + field);
  /** Element k's descriptor rva; null for a null pointer; undefined when it names nothing. */
  const entryAt = (k: number): number | null | undefined => {
    if (!slots) return slotOf(k);
    const b = ctx.values.imageBytes(slotOf(k), 8);
    if (!b) return undefined;
    const va = new DataView(b.buffer, b.byteOffset).getBigUint64(0, true);
    if (va === 0n) return null;
    const to = ctx.pe.vaToRva(va);
    return to === undefined ? undefined : to + (pointers ? field : 0);
  };
  // Records may leave a pointer field empty (crypt32.dll: record 0 is all zero): inside a table of
  // records a null entry is no candidate and does not end the table.
  const nullsInside = slots && stride > 8;
  const elements: Array<number | null> = [];
  const referenced = tableStarts(ctx);
  // Records start at the lowest code-referenced address less than a record below the base, else
  // at the base (a caller may index from a field: crypt32.dll's `lea rax,[T+10h]` beside
  // `lea r12,[T]`).
  const recordStart = deref ? (referencedAtOrBelow(referenced, base, stride) ?? base) : base;
  for (let k = 0; k < MAX_ENTRIES; k++) {
    // The table ends at a descriptor that is not the image's own, or where code addresses the data
    // directly (the start of another table or global) after the previous element's slot, up to
    // this one's (records: anywhere in the gap between their descriptor fields).
    // A record table the write's caller indexes (`deref`) is also reached field by field by other
    // code (crypt32.dll: loops from record 0's +8 and +18h, from record 1's +10h): there a start
    // in the first 16 bytes of a record (the next object, placed right after the table) ends it.
    const slotRva = slotOf(k);
    const start = deref ? recordStart + stride * k : slotRva - stride + 1;
    const end = deref ? start + 15 : slotRva;
    if (k > 0 && referencedIn(referenced, start, end)) break;
    const rva = entryAt(k);
    if (rva === null && nullsInside) {
      elements.push(null);
      continue;
    }
    const b = typeof rva === "number" ? ctx.values.imageBytes(rva, 16) : undefined;
    if (typeof rva !== "number" || !b || !own.has(hex(b))) break;
    elements.push(rva);
  }
  while (elements.length > 0 && elements[elements.length - 1] === null) elements.pop();
  const entries = elements.filter((e): e is number => e !== null);
  if (entries.length === 0) return undefined;
  const out: TableDescriptor = { tableRva: base, entries };
  if (field !== 0) out.field = field;
  const constants = constantsOnPaths(ctx, j, index.values);
  if (constants) {
    const picks = constants.map((k) => ({ off: k.value * index.scale, caller: k.caller }));
    if (picks.every((p) => p.off % stride === 0 && typeof elements[p.off / stride] === "number"))
      out.selected = picks.map((p) => {
        const sel: { entry: number; caller?: number } = { entry: elements[p.off / stride]! };
        if (p.caller !== undefined) sel.caller = p.caller;
        return sel;
      });
  }
  return out;
}

const tableStartSets = new WeakMap<object, number[]>();

/**
 * Every address the image's code names as the start of data: RIP-relative operands, and the
 * displacement of an indexed operand off a base register (`[rcx+rdx*8+T]` with rcx the image
 * base — another table's start; a displacement that is no table start only ends a table early).
 */
function tableStarts(ctx: AnalysisContext): number[] {
  const c = ctx.code;
  let starts = tableStartSets.get(c);
  if (!starts) {
    const set = new Set<number>();
    for (let i = 0; i < c.count; i++)
      if (c.memBase[i] === Reg.RIP || (c.memIndex[i] !== 0 && c.memBase[i] !== 0)) set.add(c.addr[i]!);
    starts = [...set].sort((a, b) => a - b);
    tableStartSets.set(c, starts);
  }
  return starts;
}

/** The smallest address of the sorted list `starts` in (at - span, at], if any. */
function referencedAtOrBelow(starts: number[], at: number, span: number): number | undefined {
  let a = 0;
  let b = starts.length;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (starts[mid]! <= at - span) a = mid + 1;
    else b = mid;
  }
  return a < starts.length && starts[a]! <= at ? starts[a] : undefined;
}

/** Is some address of the sorted list `starts` in [lo, hi]? */
function referencedIn(starts: number[], lo: number, hi: number): boolean {
  let a = 0;
  let b = starts.length;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (starts[mid]! < lo) a = mid + 1;
    else b = mid;
  }
  return a < starts.length && starts[a]! <= hi;
}

/** The last instruction before `at` (straight line, no call or branch) that writes register reg. */
function lastWrite(ctx: AnalysisContext, at: number, reg: number): number | undefined {
  const c = ctx.code;
  for (let j = at - 1; j >= Math.max(0, at - LOOKBACK); j--) {
    if (c.flow[j] !== Flow.Next) return undefined;
    if (c.op0[j] === Op.Reg && gpr64(c.reg0[j]!) === reg && c.mnem[j] !== M.Cmp && c.mnem[j] !== M.Test)
      return j;
  }
  return undefined;
}

/**
 * Values of index register reg before instruction j, and the factor they were multiplied by on the
 * way (the value model names the instruction of a scaled unknown): `shl r, k`, `imul r, src, k`,
 * `lea r, [src+src*s]` (×(s+1)) or `lea r, [src*s]`, followed back up to MAX_SCALE_STEPS times.
 */
function scaledIndex(ctx: AnalysisContext, j: number, reg: number): { values: Value[]; scale: number } {
  const c = ctx.code;
  let values = ctx.values.registerAt(j, reg);
  let scale = 1;
  for (let step = 0; ; step++) {
    const v = values.length === 1 ? values[0]! : undefined;
    if (v?.k !== "unknown" || v.at === undefined || (v.off ?? 0) !== 0) break;
    const d = v.at;
    const m = c.mnem[d]!;
    let factor: number;
    let src: number;
    if (m === M.Shl && c.op1[d] === Op.Imm) {
      factor = 2 ** c.imm[d]!;
      src = gpr64(c.reg0[d]!);
    } else if (m === M.Imul && c.op1[d] === Op.Reg && c.imm[d]! > 0) {
      factor = c.imm[d]!;
      src = gpr64(c.reg1[d]!);
    } else if (m === M.Lea && c.op1[d] === Op.Mem && c.memIndex[d] !== 0 && c.addr[d] === 0) {
      const index = gpr64(c.memIndex[d]!);
      if (c.memBase[d] === 0) factor = c.memScale[d]!;
      else if (gpr64(c.memBase[d]!) === index) factor = c.memScale[d]! + 1;
      else break;
      src = index;
    } else break;
    // More multiplications than followed: the factor is not known (no table needs one).
    if (step === MAX_SCALE_STEPS) return { values: [{ k: "unknown", why: "index scale" }], scale: 0 };
    scale *= factor;
    values = ctx.values.registerAt(d, src);
  }
  return { values, scale };
}

/**
 * The constant index values reaching instruction `site`: immediates in its function, or a
 * parameter every caller passes as a constant. Undefined when any path gives something else.
 */
function constantsOnPaths(
  ctx: AnalysisContext,
  site: number,
  values: Value[],
): Array<{ value: number; caller?: number }> | undefined {
  const out: Array<{ value: number; caller?: number }> = [];
  const fn = functionAt(ctx.functions, ctx.code.rva[site]!);
  for (const v of values) {
    if (v.k === "imm") out.push({ value: Number(v.v & 0xffffffffn) });
    else if (v.k === "param" && fn) {
      const callers = ctx.graph.callers.get(fn.rva) ?? [];
      if (callers.length === 0 || callers.length > MAX_CALLERS) return undefined;
      for (const caller of callers) {
        const args = ctx.values.argument(caller.index, v.n);
        for (const a of args) {
          if (a.k !== "imm") return undefined;
          out.push({ value: Number(a.v & 0xffffffffn), caller: caller.index });
        }
      }
    } else return undefined;
  }
  return out.length > 0 ? out : undefined;
}

/**
 * Events of a write whose descriptor comes from a table: the selected entries (constant index, with
 * the caller that chose it), or one event listing every entry as a candidate.
 */
export function tableEvents(
  ctx: AnalysisContext,
  t: TableDescriptor,
  atAddress: (rva: number) => SiteEvent,
  decode: (b: Uint8Array) => EventDescriptor,
): Array<{ event: SiteEvent; caller?: number }> {
  if (t.selected) {
    const seen = new Set<string>();
    return t.selected.flatMap((s) => {
      const key = `${s.entry}:${s.caller}`;
      if (seen.has(key)) return [];
      seen.add(key);
      return [
        s.caller === undefined
          ? { event: atAddress(s.entry) }
          : { event: atAddress(s.entry), caller: s.caller },
      ];
    });
  }
  return [
    {
      event: {
        kind: "manifest",
        tableRva: t.tableRva,
        candidates: t.entries.map((rva) => decode(ctx.values.imageBytes(rva, 16)!)),
      },
    },
  ];
}
