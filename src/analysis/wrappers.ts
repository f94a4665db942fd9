/**
 * Argument resolution across wrappers: when an argument of a write call depends on the containing
 * function's parameters (McGenEventWrite, McTemplate*, _tlgWrite* helpers, logging wrappers), the
 * parameters are replaced by each caller's arguments, up to a few levels.
 */
import type { CallGraph } from "./callgraph.js";
import type { Code } from "./disasm.js";
import { type FunctionTable, functionAt } from "./functions.js";
import type { ResolvedCall } from "./recognizers/types.js";
import { hasParam, normalize, substitute, type Value, type ValueResolver, valueKey } from "./values.js";

export interface WrapperOptions {
  /** Wrapper levels followed upward (default 3). */
  levels?: number;
  /** Callers examined per wrapper (default 512). */
  maxCallers?: number;
}

/** Cartesian product of per-argument value lists, capped. */
function combos(lists: Value[][], cap: number): Value[][] {
  let out: Value[][] = [[]];
  for (const l of lists) {
    const next: Value[][] = [];
    for (const prefix of out) for (const v of l) if (next.length < cap) next.push([...prefix, v]);
    out = next;
  }
  return out;
}

export function resolveArguments(
  code: Code,
  functions: FunctionTable,
  graph: CallGraph,
  values: ValueResolver,
  site: number,
  args: number[],
  options: WrapperOptions = {},
): ResolvedCall[] {
  const levels = options.levels ?? 3;
  const maxCallers = options.maxCallers ?? 512;
  const initial = combos(
    args.map((n) => values.argument(site, n).map(normalize)),
    64,
  ).map((vs) => ({ values: vs, chain: [site] }));
  const out: ResolvedCall[] = [];
  const seen = new Set<string>();
  const emit = (r: ResolvedCall): void => {
    const key = r.chain[0] + ":" + r.values.map(valueKey).join(",");
    if (!seen.has(key)) {
      seen.add(key);
      out.push(r);
    }
  };
  let frontier = initial;
  for (let level = 0; level <= levels && frontier.length > 0; level++) {
    const next: ResolvedCall[] = [];
    for (const r of frontier) {
      if (!r.values.some(hasParam) || level === levels) {
        emit(r);
        continue;
      }
      const fn = functionAt(functions, code.rva[r.chain[0]!]!);
      const callers = fn ? (graph.callers.get(fn.rva) ?? []) : [];
      if (callers.length === 0 || callers.length > maxCallers) {
        emit(r);
        continue;
      }
      const needed = new Set<number>();
      for (const v of r.values) collectParams(v, needed);
      for (const c of callers) {
        const paramList = [...needed];
        const perParam = paramList.map((n) => values.argument(c.index, n).map(normalize));
        for (const combo of combos(perParam, 16)) {
          const map = new Map<number, Value>(paramList.map((n, i) => [n, combo[i]!]));
          next.push({
            values: r.values.map((v) => normalize(substitute(v, (n) => map.get(n) ?? { k: "param", n }))),
            chain: [c.index, ...r.chain],
          });
        }
      }
    }
    frontier = next;
  }
  return out;
}

function collectParams(v: Value, into: Set<number>): void {
  if (v.k === "param") into.add(v.n);
  else if (v.k === "load") collectParams(v.base, into);
}
