/**
 * Function discovery: starts from .pdata (x64 RUNTIME_FUNCTION), exports, PDB symbols and direct
 * call targets; instruction-index ranges per function; import thunks (`jmp [rip+__imp_X]`).
 */
import { type Code, Flow, gpr64, indexAt, indexAtOrBefore, M, Op, Reg } from "./disasm.js";

/** One x64 RUNTIME_FUNCTION entry, with `parent` set for chained (continuation) entries. */
export interface RuntimeFunctionRange {
  begin: number;
  end: number;
  /** Begin RVA of the primary entry when this entry's unwind info chains to another one. */
  parent?: number;
}

export interface FunctionInfo {
  rva: number;
  /** End RVA (exclusive) of the primary body: .pdata end, else the next function start. */
  end: number;
  /** Instruction indices [first, last) of the primary body. */
  first: number;
  last: number;
  name?: string;
  /** Import reached when the function is only `jmp [rip+__imp_X]`. */
  thunkImport?: string;
  /**
   * Chained .pdata fragments of this function (cold blocks the compiler moved away, e.g. PGO
   * splitting): their own RVA and instruction-index ranges. Branches between the primary body and
   * its fragments are control flow of the same function.
   */
  fragments?: CodeRange[];
}

/** A range of decoded code: RVAs [rva, end) and instruction indices [first, last). */
export interface CodeRange {
  rva: number;
  end: number;
  first: number;
  last: number;
}

export interface FunctionTable {
  /** Sorted by rva. */
  list: FunctionInfo[];
  byRva: Map<number, FunctionInfo>;
  /** Region starts (function starts and chained fragments), sorted, with the owning function rva. */
  regionStart: Uint32Array;
  regionOwner: Uint32Array;
}

export interface FunctionSeeds {
  runtimeFunctions?: RuntimeFunctionRange[];
  /** Known names by rva (exports, PDB publics/procedures). */
  names?: Map<number, string>;
  /** Extra starts known to be code (exports that are code, entry point). */
  starts?: Iterable<number>;
  /** IAT slot rva → import label, for naming thunks. */
  imports?: Map<number, string>;
}

/** Function starts known before decoding: .pdata primaries, named code, extra starts. */
export function seedStarts(seeds: FunctionSeeds): Set<number> {
  const out = new Set<number>();
  for (const r of seeds.runtimeFunctions ?? []) out.add(r.begin);
  for (const s of seeds.starts ?? []) out.add(s);
  return out;
}

/**
 * Builds the function table from decoded code. Call targets that land on a decoded instruction
 * become function starts too (leaf functions have no .pdata entry).
 */
export function buildFunctions(code: Code, seeds: FunctionSeeds): FunctionTable {
  const fragments = new Map<number, number>(); // fragment begin → parent begin
  const pdataSorted = (seeds.runtimeFunctions ?? []).slice().sort((a, b) => a.begin - b.begin);
  const pdataBegins = Uint32Array.from(pdataSorted.map((r) => r.begin));
  const insidePdata = (rva: number): boolean => {
    const k = lowerBound(pdataBegins, rva + 1) - 1;
    return k >= 0 && rva > pdataSorted[k]!.begin && rva < pdataSorted[k]!.end;
  };
  const pdataEnd = new Map<number, number>();
  const fragmentEnd = new Map<number, number>();
  const starts = new Set<number>();
  for (const r of seeds.runtimeFunctions ?? []) {
    if (r.parent !== undefined && r.parent !== r.begin) {
      fragments.set(r.begin, r.parent);
      fragmentEnd.set(r.begin, r.end);
    } else {
      starts.add(r.begin);
      pdataEnd.set(r.begin, Math.max(pdataEnd.get(r.begin) ?? 0, r.end));
    }
  }
  for (const s of seeds.starts ?? []) if (!fragments.has(s)) starts.add(s);
  for (const rva of seeds.names?.keys() ?? [])
    if (!fragments.has(rva) && indexAt(code, rva) >= 0) starts.add(rva);
  for (let i = 0; i < code.count; i++) {
    if (code.flow[i] === Flow.Call && code.op0[i] === Op.Branch) {
      const t = code.addr[i]!;
      if (!fragments.has(t) && indexAt(code, t) >= 0) starts.add(t);
    } else if (code.mnem[i] === M.Lea && code.memBase[i] === Reg.RIP && code.op1[i] === Op.Mem) {
      // Address-taken code (callbacks, dispatch routines) starts a function when it is not
      // inside one that .pdata already delimits.
      const t = code.addr[i]!;
      if (!fragments.has(t) && !insidePdata(t) && indexAt(code, t) >= 0) starts.add(t);
    }
  }
  const sorted = [...starts].filter((s) => indexAt(code, s) >= 0).sort((a, b) => a - b);
  const list: FunctionInfo[] = [];
  const byRva = new Map<number, FunctionInfo>();
  const allRegions = [
    ...sorted.map((s) => [s, s] as const),
    ...[...fragments].map(([f, p]) => [f, p] as const),
  ]
    .filter(([f]) => indexAt(code, f) >= 0)
    .sort((a, b) => a[0] - b[0]);
  let regionStart = Uint32Array.from(allRegions.map((r) => r[0]));
  let regionOwner = Uint32Array.from(allRegions.map((r) => r[1]));
  for (let k = 0; k < sorted.length; k++) {
    const rva = sorted[k]!;
    const regionIdx = lowerBound(regionStart, rva + 1);
    const nextRegion = regionIdx < regionStart.length ? regionStart[regionIdx]! : Number.MAX_SAFE_INTEGER;
    let end = pdataEnd.get(rva) ?? nextRegion;
    if (end > nextRegion) end = nextRegion;
    const first = indexAt(code, rva);
    let last = indexAtOrBefore(code, end - 1) + 1;
    if (last <= first) last = first + 1;
    // Without .pdata the body ends at the next start; never run into the next decoded range.
    if (last > code.count) last = code.count;
    const f: FunctionInfo = { rva, end, first, last };
    const name = seeds.names?.get(rva);
    if (name) f.name = name;
    list.push(f);
    byRva.set(rva, f);
  }
  for (const [begin, parent] of fragments) {
    const owner = byRva.get(parent);
    const first = indexAt(code, begin);
    if (!owner || first < 0) continue;
    const regionIdx = lowerBound(regionStart, begin + 1);
    const nextRegion = regionIdx < regionStart.length ? regionStart[regionIdx]! : Number.MAX_SAFE_INTEGER;
    const end = Math.min(fragmentEnd.get(begin) ?? nextRegion, nextRegion);
    const last = Math.min(Math.max(indexAtOrBefore(code, end - 1) + 1, first + 1), code.count);
    (owner.fragments ??= []).push({ rva: begin, end, first, last });
  }
  // Cold code without unwind info (a frameless leaf function's cold blocks need no .pdata entry):
  // it joins the one function whose branches reach it, as a fragment.
  const cold = unwindlessColdCode(code, { list, byRva, regionStart, regionOwner }, pdataSorted);
  if (cold.length > 0) {
    for (const { owner, range } of cold) (owner.fragments ??= []).push(range);
    const regions = [...allRegions, ...cold.map(({ owner, range }) => [range.rva, owner.rva] as const)].sort(
      (a, b) => a[0] - b[0],
    );
    regionStart = Uint32Array.from(regions.map((r) => r[0]));
    regionOwner = Uint32Array.from(regions.map((r) => r[1]));
  }
  // Import thunks: a body whose first instruction is `jmp [rip+IAT]`.
  if (seeds.imports) {
    for (const f of list) {
      const i = f.first;
      if (code.mnem[i] === M.Jmp && code.op0[i] === Op.Mem && code.memBase[i] === Reg.RIP) {
        const imp = seeds.imports.get(code.addr[i]!);
        if (imp) f.thunkImport = imp;
      }
    }
  }
  return { list, byRva, regionStart, regionOwner };
}

/**
 * Code reached by direct branches of a function but owned by none: outside every .pdata entry and
 * function body (bodies with .pdata end at their entry's end). AppXDeploymentClient.dll's leaf
 * switch at 0x5004 jumps to its cases at 0xd250..0xd562, after another function's chained
 * fragment, where its descriptor loads and the tail call to the EventWrite helper sit. Each such
 * gap (up to the next .pdata entry or region start) is split at its lowest branch target per
 * function; a gap whose targets of two functions interleave stays unowned.
 */
function unwindlessColdCode(
  code: Code,
  table: FunctionTable,
  pdata: RuntimeFunctionRange[],
): Array<{ owner: FunctionInfo; range: CodeRange }> {
  const pdataBegins = Uint32Array.from(pdata.map((r) => r.begin));
  const covered = (rva: number): boolean => {
    const k = lowerBound(pdataBegins, rva + 1) - 1;
    return k >= 0 && rva < pdata[k]!.end;
  };
  /** Gap end of a target → branch targets in that gap, with the function branching there. */
  const gaps = new Map<number, Map<number, FunctionInfo | null>>();
  for (const f of table.list) {
    for (const r of [f, ...(f.fragments ?? [])]) {
      for (let i = r.first; i < r.last; i++) {
        const fl = code.flow[i]!;
        if ((fl !== Flow.ConditionalBranch && fl !== Flow.UnconditionalBranch) || code.op0[i] !== Op.Branch)
          continue;
        const t = code.addr[i]!;
        if (ownsRva(f, t) || table.byRva.has(t) || covered(t) || indexAt(code, t) < 0) continue;
        const g = functionAt(table, t);
        if (g && ownsRva(g, t)) continue;
        const nextRegion = lowerBound(table.regionStart, t + 1);
        const nextPdata = lowerBound(pdataBegins, t + 1);
        const end = Math.min(
          nextRegion < table.regionStart.length ? table.regionStart[nextRegion]! : Number.MAX_SAFE_INTEGER,
          nextPdata < pdata.length ? pdata[nextPdata]!.begin : Number.MAX_SAFE_INTEGER,
        );
        let targets = gaps.get(end);
        if (!targets) gaps.set(end, (targets = new Map()));
        const prev = targets.get(t);
        targets.set(t, prev === undefined || prev === f ? f : null);
      }
    }
  }
  const out: Array<{ owner: FunctionInfo; range: CodeRange }> = [];
  for (const [end, targets] of gaps) {
    const sorted = [...targets].sort((a, b) => a[0] - b[0]);
    // Runs of one function's targets; a function with two runs (interleaved) makes the gap ambiguous.
    const runs: Array<{ rva: number; owner: FunctionInfo | null }> = [];
    for (const [t, f] of sorted)
      if (runs.length === 0 || runs.at(-1)!.owner !== f) runs.push({ rva: t, owner: f });
    const owners = runs.map((r) => r.owner);
    if (owners.includes(null) || new Set(owners).size !== owners.length) continue;
    runs.forEach((run, k) => {
      const stop = k + 1 < runs.length ? runs[k + 1]!.rva : end;
      const first = indexAt(code, run.rva);
      const last = Math.min(Math.max(indexAtOrBefore(code, stop - 1) + 1, first + 1), code.count);
      // The last gap of the code ends with its last instruction.
      const rangeEnd = Math.min(stop, code.rva[last - 1]! + code.len[last - 1]!);
      out.push({ owner: run.owner!, range: { rva: run.rva, end: rangeEnd, first, last } });
    });
  }
  return out;
}

function lowerBound(a: Uint32Array, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Is `rva` inside the function's primary body or one of its chained fragments? */
export function ownsRva(f: FunctionInfo, rva: number): boolean {
  return (rva >= f.rva && rva < f.end) || (f.fragments?.some((r) => rva >= r.rva && rva < r.end) ?? false);
}

/** Is instruction index `i` inside the function's primary body or one of its chained fragments? */
export function ownsIndex(f: FunctionInfo, i: number): boolean {
  return (i >= f.first && i < f.last) || (f.fragments?.some((r) => i >= r.first && i < r.last) ?? false);
}

/** The function owning the code at `rva` (chained fragments map to their parent), if any. */
export function functionAt(table: FunctionTable, rva: number): FunctionInfo | undefined {
  const k = lowerBound(table.regionStart, rva + 1) - 1;
  if (k < 0) return undefined;
  return table.byRva.get(table.regionOwner[k]!);
}

/** Display name of a function: its symbol, or sub_<RVA> like other tools print. */
export function functionName(f: FunctionInfo): string {
  return f.name ?? `sub_${f.rva.toString(16).toUpperCase()}`;
}

/**
 * Basic block leaders of a function body: the first instruction, branch targets inside the body
 * and instructions following a branch/return.
 */
export function basicBlockLeaders(code: Code, f: FunctionInfo): number[] {
  const leaders = new Set<number>([f.first]);
  for (let i = f.first; i < f.last; i++) {
    const fl = code.flow[i]!;
    if (fl === Flow.ConditionalBranch || fl === Flow.UnconditionalBranch) {
      if (code.op0[i] === Op.Branch) {
        const t = code.addr[i]!;
        if (t >= f.rva && t < f.end) {
          const j = indexAt(code, t);
          if (j >= 0) leaders.add(j);
        }
      }
      if (i + 1 < f.last) leaders.add(i + 1);
    } else if (fl === Flow.Return || fl === Flow.IndirectBranch || fl === Flow.Exception) {
      if (i + 1 < f.last) leaders.add(i + 1);
    }
  }
  return [...leaders].sort((a, b) => a - b);
}

/**
 * Predecessor instructions by index for the body of `f`: for each branch target inside the body,
 * the branch instructions that reach it (fall-through predecessors are implicit: i-1 unless
 * i-1 ends its block with an unconditional transfer).
 */
export function branchPredecessors(
  code: Code,
  f: FunctionInfo,
  readU32?: (rva: number) => number | undefined,
  writes?: (i: number, reg: number) => boolean,
): Map<number, number[]> {
  const preds = new Map<number, number[]>();
  const ranges: CodeRange[] = [f, ...(f.fragments ?? [])];
  const add = (target: number, from: number): void => {
    if (!ranges.some((r) => target >= r.rva && target < r.end)) return;
    const j = indexAt(code, target);
    if (j < 0) return;
    const list = preds.get(j);
    if (list) {
      if (!list.includes(from)) list.push(from);
    } else preds.set(j, [from]);
  };
  const jumps: number[] = [];
  for (const r of ranges) {
    for (let i = r.first; i < r.last; i++) {
      const fl = code.flow[i]!;
      if ((fl === Flow.ConditionalBranch || fl === Flow.UnconditionalBranch) && code.op0[i] === Op.Branch) {
        add(code.addr[i]!, i);
      } else if (fl === Flow.IndirectBranch && readU32) jumps.push(i);
    }
  }
  // Switches after the direct branches: their image-base check may walk those.
  const direct = new Map([...preds].map(([k, v]) => [k, [...v]]));
  for (const i of jumps) for (const t of jumpTableTargets(code, f, i, readU32!, direct, writes)) add(t, i);
  return preds;
}

/** Entries read from one jump table at most (real switches stay far below). */
const MAX_JUMP_TABLE = 1024;

/**
 * Targets of an MSVC x64 switch: `lea rB, [rip+__ImageBase]` … `mov eT, [rB + rI*4 + TABLE]` …
 * `add rT, rB` … `jmp rT`, where TABLE holds 32-bit RVAs. Entries are read while they land on an
 * instruction inside the function.
 */
export function jumpTableTargets(
  code: Code,
  f: FunctionInfo,
  jmp: number,
  readU32: (rva: number) => number | undefined,
  held?: ReadonlyMap<number, number[]>,
  writes?: (i: number, reg: number) => boolean,
): number[] {
  if (code.op0[jmp] !== Op.Reg) return [];
  const reg = gpr64(code.reg0[jmp]!);
  let table = -1;
  let baseReg = -1;
  for (let j = jmp - 1; j >= Math.max(f.first, jmp - 12); j--) {
    if (code.op0[j] !== Op.Reg || gpr64(code.reg0[j]!) !== reg) continue;
    if (code.mnem[j] === M.Add && code.op1[j] === Op.Reg) continue; // add rT, rB
    if (
      (code.mnem[j] === M.Mov || code.mnem[j] === M.Movsxd) &&
      code.op1[j] === Op.Mem &&
      code.memScale[j] === 4 &&
      code.memIndex[j] !== 0
    ) {
      table = code.addr[j]!;
      baseReg = gpr64(code.memBase[j]!);
    }
    break;
  }
  if (table <= 0) return [];
  // The base register must hold the image base (RVA 0): set right before, or — a switch in a loop
  // keeps it in a register set before the loop (lsasrv.dll's format loop) — on every path to the
  // jump (`imageBaseAtJump`, when the caller gives the branch predecessors and register writes).
  let baseIsImage = false;
  for (let j = jmp - 1; j >= Math.max(f.first, jmp - 24); j--) {
    if (code.op0[j] === Op.Reg && gpr64(code.reg0[j]!) === baseReg) {
      baseIsImage = isImageBaseLea(code, j);
      break;
    }
  }
  if (!baseIsImage && !(held && writes)) return [];
  const out: number[] = [];
  for (let k = 0; k < MAX_JUMP_TABLE; k++) {
    const t = readU32(table + 4 * k);
    // Cases may sit in the function's chained fragments (cold code).
    if (t === undefined || !ownsRva(f, t) || indexAt(code, t) < 0) break;
    out.push(t);
  }
  if (
    !baseIsImage &&
    !imageBaseAtJump(code, f, jmp, baseReg, new Set(out.map((t) => indexAt(code, t))), held!, writes!)
  )
    return [];
  return out;
}

/** `lea reg, [rip + __ImageBase]`. */
function isImageBaseLea(code: Code, j: number): boolean {
  return code.mnem[j] === M.Lea && code.memBase[j] === Reg.RIP && code.addr[j] === 0;
}

/** Instructions `imageBaseAtJump` walks at most. */
const MAX_BASE_WALK = 4096;

/**
 * Does register reg hold the image base at jump `jmp` on every path? Walks back over fall-through
 * and the branches in `held` (the direct branch predecessors) to the writes of reg, each of which
 * must be `lea reg, [rip + __ImageBase]`. A path reaching an instruction without predecessors is
 * fine only at one of the jump's own case entries (`cases`): it came from the jump, where reg holds
 * the base by the same argument (an invariant of the switch loop). The function's entry, a call
 * that may write reg (`writes`) or a long walk make it false.
 */
function imageBaseAtJump(
  code: Code,
  f: FunctionInfo,
  jmp: number,
  reg: number,
  cases: ReadonlySet<number>,
  held: ReadonlyMap<number, number[]>,
  writes: (i: number, reg: number) => boolean,
): boolean {
  const seen = new Set<number>([jmp]);
  const stack = [jmp];
  while (stack.length > 0) {
    const k = stack.pop()!;
    const ps = [...(held.get(k) ?? [])];
    if (ownsIndex(f, k - 1) && !endsFlow(code, k - 1)) ps.push(k - 1);
    if (ps.length === 0 && !cases.has(k)) return false;
    for (const p of ps) {
      if (seen.has(p)) continue;
      if (seen.size >= MAX_BASE_WALK) return false;
      seen.add(p);
      if (writes(p, reg)) {
        if (!isImageBaseLea(code, p)) return false;
      } else stack.push(p);
    }
  }
  return true;
}

/** True when control never falls through from instruction i to i+1. */
export function endsFlow(code: Code, i: number): boolean {
  const fl = code.flow[i]!;
  return (
    fl === Flow.UnconditionalBranch ||
    fl === Flow.Return ||
    fl === Flow.IndirectBranch ||
    fl === Flow.Exception ||
    // int3 is padding between blocks (after a ret, before a cold block a branch reaches), not a
    // path values flow along.
    code.mnem[i] === M.Int3
  );
}
