/**
 * Basic-block control flow graph of one function (primary body + chained fragments, switch jump
 * tables followed), with a virtual exit node — the shape post-dominators need.
 */
import { type Code, Flow, indexAt, Op } from "../disasm.js";
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
        const ts = jumpTableTargets(code, f, i, readU32)
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
