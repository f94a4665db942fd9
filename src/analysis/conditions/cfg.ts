/**
 * Basic-block control flow graph of one function (primary body + chained fragments, switch jump
 * tables followed), with a virtual exit node — the shape post-dominators need.
 */
import { type Code, Flow, gpr64, indexAt, M, Op, Reg } from "../disasm.js";
import { type CodeRange, endsFlow as ends, type FunctionInfo, jumpTableTargets } from "../functions.js";

export interface Block {
  /** Instruction indices [first, last). */
  first: number;
  last: number;
  /** Successor block numbers; EXIT for leaving the function. */
  succ: number[];
  /** For a block ending in a conditional branch: the taken and the fall-through successor. */
  taken?: number;
  fall?: number;
}

export interface Cfg {
  blocks: Block[];
  /** Virtual exit node number (= blocks.length). */
  exit: number;
  /** Block of the function's first instruction. */
  entry: number;
  /** Predecessor blocks per block (the exit's included). */
  preds: number[][];
  /** Block number of an instruction index inside the function, else -1. */
  blockOf(index: number): number;
}

/** Builds the CFG of `f`; `readU32` reads the image for jump tables. */
export function buildCfg(code: Code, f: FunctionInfo, readU32: (rva: number) => number | undefined): Cfg {
  const ranges: CodeRange[] = [f, ...(f.fragments ?? [])].sort((a, b) => a.first - b.first);
  const inRanges = (rva: number): boolean => ranges.some((r) => rva >= r.rva && rva < r.end);
  const rangeOf = (i: number): CodeRange | undefined => ranges.find((r) => i >= r.first && i < r.last);
  const target = (rva: number): number => (inRanges(rva) ? indexAt(code, rva) : -1);
  const leaders = new Set<number>();
  const tables = new Map<number, number[]>();
  for (const r of ranges) {
    leaders.add(r.first);
    for (let i = r.first; i < r.last; i++) {
      const fl = code.flow[i]!;
      if ((fl === Flow.ConditionalBranch || fl === Flow.UnconditionalBranch) && code.op0[i] === Op.Branch) {
        const t = target(code.addr[i]!);
        if (t >= 0) leaders.add(t);
      } else if (fl === Flow.IndirectBranch) {
        const ts = [
          ...jumpTableTargets(code, f, i, readU32),
          ...relativeJumpTableTargets(code, i, inRanges, readU32),
        ]
          .map((rva) => target(rva))
          .filter((t) => t >= 0);
        tables.set(i, ts);
        for (const t of ts) leaders.add(t);
      }
      if (ends(code, i) || fl === Flow.ConditionalBranch) if (i + 1 < r.last) leaders.add(i + 1);
    }
  }
  const starts = [...leaders].sort((a, b) => a - b);
  const blockAt = new Map<number, number>();
  const blocks: Block[] = starts.map((s, k) => {
    blockAt.set(s, k);
    const r = rangeOf(s)!;
    const next = k + 1 < starts.length ? Math.min(starts[k + 1]!, r.last) : r.last;
    return { first: s, last: next, succ: [] };
  });
  const exit = blocks.length;
  for (const b of blocks) {
    const e = b.last - 1;
    const fl = code.flow[e]!;
    const r = rangeOf(e)!;
    // A chained fragment starting right where this range ends continues it.
    const next =
      e + 1 < code.count && code.rva[e + 1] === code.rva[e]! + code.len[e]! ? blockAt.get(e + 1) : undefined;
    const fallBlock = e + 1 < r.last ? (blockAt.get(e + 1) ?? exit) : (next ?? exit);
    const add = (n: number): void => {
      if (!b.succ.includes(n)) b.succ.push(n);
    };
    if (fl === Flow.ConditionalBranch) {
      const t = code.op0[e] === Op.Branch ? target(code.addr[e]!) : -1;
      const takenBlock = t >= 0 ? (blockAt.get(t) ?? exit) : exit;
      b.taken = takenBlock;
      b.fall = fallBlock;
      add(takenBlock);
      add(fallBlock);
    } else if (fl === Flow.UnconditionalBranch) {
      const t = code.op0[e] === Op.Branch ? target(code.addr[e]!) : -1;
      add(t >= 0 ? (blockAt.get(t) ?? exit) : exit); // a jump out is a tail call
    } else if (fl === Flow.IndirectBranch) {
      const ts = tables.get(e) ?? [];
      if (ts.length === 0) add(exit);
      for (const t of ts) add(blockAt.get(t) ?? exit);
    } else if (ends(code, e)) add(exit);
    else add(fallBlock);
  }
  const preds: number[][] = Array.from({ length: exit + 1 }, () => []);
  blocks.forEach((b, k) => {
    for (const s of b.succ) preds[s]!.push(k);
  });
  const firsts = Int32Array.from(starts);
  return {
    blocks,
    exit,
    entry: blockAt.get(f.first) ?? 0,
    preds,
    blockOf(index) {
      let lo = 0;
      let hi = firsts.length - 1;
      let ans = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (firsts[mid]! <= index) {
          ans = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      return ans >= 0 && index < blocks[ans]!.last ? ans : -1;
    },
  };
}

/** Entries read from one table at most (as functions.ts's image-base tables). */
const MAX_TABLE = 1024;

/**
 * Targets of a table of offsets from the table itself (clang/LLVM's x64 switch):
 * `cmp idx, N; ja default` … `lea rT, [rip+TABLE]; movsxd rX, [rT + idx*4]; add rX, rT; jmp rX`.
 * Read up to the bound check's N + 1 entries, else while entries land in the function.
 */
export function relativeJumpTableTargets(
  code: Code,
  jmp: number,
  inFunction: (rva: number) => boolean,
  readU32: (rva: number) => number | undefined,
): number[] {
  if (code.op0[jmp] !== Op.Reg) return [];
  const x = gpr64(code.reg0[jmp]!);
  let j = jmp - 1;
  if (
    !(
      code.mnem[j] === M.Add &&
      code.op0[j] === Op.Reg &&
      gpr64(code.reg0[j]!) === x &&
      code.op1[j] === Op.Reg
    )
  )
    return [];
  const t = gpr64(code.reg1[j]!);
  let load = -1;
  let table = -1;
  let bound = MAX_TABLE;
  for (j = jmp - 2; j >= Math.max(0, jmp - 10); j--) {
    const m = code.mnem[j]!;
    if (
      load < 0 &&
      m === M.Movsxd &&
      code.op1[j] === Op.Mem &&
      gpr64(code.memBase[j]!) === t &&
      code.memScale[j] === 4
    )
      load = j;
    else if (
      m === M.Lea &&
      code.op0[j] === Op.Reg &&
      gpr64(code.reg0[j]!) === t &&
      code.memBase[j] === Reg.RIP
    )
      table = code.addr[j]!;
    else if (m === M.Cmp && code.op1[j] === Op.Imm && code.flow[j + 1] === Flow.ConditionalBranch) {
      bound = Math.min(MAX_TABLE, code.imm[j]! + 1);
      break;
    }
  }
  if (load < 0 || table < 0 || bound <= 0) return [];
  const out: number[] = [];
  for (let k = 0; k < bound; k++) {
    const e = readU32(table + 4 * k);
    if (e === undefined) break;
    const target = table + (e | 0);
    if (!inFunction(target)) break;
    out.push(target);
  }
  return out;
}
