/**
 * Argument resolution across wrappers: when an argument of a write call depends on the containing
 * function's parameters (McGenEventWrite, McTemplate*, _tlgWrite* helpers, logging wrappers), the
 * parameters are replaced by each caller's arguments, up to a few levels.
 */
import type { CallGraph } from "./callgraph.js";
import type { Code } from "./disasm.js";
import { type FunctionTable, functionAt } from "./functions.js";
import { limitLog, scaledBudget } from "./limits.js";
import type { ResolvedCall } from "./recognizers/types.js";
import { hasParam, normalize, substitute, type Value, type ValueResolver, valueKey } from "./values.js";

export interface WrapperOptions {
  /** Wrapper levels followed upward (default 3). */
  levels?: number;
  /** Callers examined per wrapper (default: all of them; a wrapper can have thousands of callers). */
  maxCallers?: number;
}

/** Value combinations of one call's arguments kept (each argument already holds ≤ 32 values). */
const ARGUMENT_COMBOS = 64;
/** Value combinations of a wrapper's parameters kept per caller. */
const CALLER_COMBOS = 32;
/** Work (resolved calls carried to the next wrapper level) per call edge of the image, and at least. */
const WORK_PER_EDGE = 4;
const WORK_FLOOR = 65_536;

/** Cartesian product of per-argument value lists, capped; `onCut` when the cap dropped some. */
function combos(lists: Value[][], cap: number, onCut: () => void): Value[][] {
  let out: Value[][] = [[]];
  let cut = false;
  for (const l of lists) {
    const next: Value[][] = [];
    for (const prefix of out)
      for (const v of l) {
        if (next.length < cap) next.push([...prefix, v]);
        else cut = true;
      }
    out = next;
  }
  if (cut) onCut();
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
  const maxCallers = options.maxCallers ?? Number.POSITIVE_INFINITY;
  const limits = limitLog(values);
  const at = `0x${code.rva[site]!.toString(16)}`;
  const initial = combos(
    args.map((n) => values.argument(site, n).map(normalize)),
    ARGUMENT_COMBOS,
    () =>
      limits.hit(
        "argument-combinations",
        `argument value combinations of a call kept to ${ARGUMENT_COMBOS}`,
        at,
      ),
  ).map((vs) => ({ values: vs, chain: [site] }));
  let work = scaledBudget(graph, WORK_PER_EDGE, WORK_FLOOR);
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
      if (callers.length === 0) {
        emit(r);
        continue;
      }
      if (callers.length > maxCallers || work < callers.length) {
        limits.hit(
          "wrapper-callers",
          callers.length > maxCallers
            ? `wrappers with more than ${maxCallers} callers left unresolved (the caller's option maxCallers)`
            : "wrapper callers left unresolved: the work budget (4 per call edge of the image) ran out",
          at,
        );
        emit(r);
        continue;
      }
      work -= callers.length;
      const needed = new Set<number>();
      for (const v of r.values) collectParams(v, needed);
      for (const c of callers) {
        const paramList = [...needed];
        const perParam = paramList.map((n) => values.argument(c.index, n).map(normalize));
        const cut = () =>
          limits.hit(
            "caller-combinations",
            `parameter value combinations of a wrapper's caller kept to ${CALLER_COMBOS}`,
            `0x${code.rva[c.index]!.toString(16)}`,
          );
        for (const combo of combos(perParam, CALLER_COMBOS, cut)) {
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
  else if (v.k === "load" || v.k === "ptr") collectParams(v.base, into);
  else if (v.k === "match") collectParams(v.value, into);
}

/**
 * A value `v` seen in the function holding call `chain[level]` of a wrapper chain (call indices,
 * outermost first) as each function of the chain up from there sees it: `v`, then `v` with the
 * parameters it still has replaced by the arguments of the call one level up, and so on. Innermost
 * first; ends at a level where an argument has more than one value, or where no parameter is left.
 */
export function chainValuesFrom(
  values: ValueResolver,
  chain: readonly number[],
  level: number,
  v: Value,
): Array<{ call: number; value: Value }> {
  if (level < 0) return [];
  const out = [{ call: chain[level]!, value: normalize(v) }];
  let cur = out[0]!.value;
  for (let k = level - 1; k >= 0 && hasParam(cur); k--) {
    let ambiguous = false;
    cur = normalize(
      substitute(cur, (n) => {
        const vs = values.argument(chain[k]!, n).map(normalize);
        if (vs.length !== 1) ambiguous = true;
        return vs[0] ?? { k: "unknown", why: "no argument" };
      }),
    );
    if (ambiguous) break;
    out.push({ call: chain[k]!, value: cur });
  }
  return out;
}

/**
 * Value `v`, seen in the function holding instruction `at`, as the callers of that function see it
 * (its parameters replaced by each direct caller's arguments), their callers, and so on while
 * parameters are left, up to `levels` levels: one entry per caller's call. A caller passing a
 * parameter more than one value adds nothing.
 */
export function callerValues(
  code: Code,
  functions: FunctionTable,
  graph: CallGraph,
  values: ValueResolver,
  at: number,
  v: Value,
  levels = 3,
): Array<{ call: number; value: Value }> {
  const out: Array<{ call: number; value: Value }> = [];
  let frontier = [{ call: at, value: normalize(v) }];
  const seen = new Set<number>();
  for (let level = 0; level < levels && frontier.length > 0; level++) {
    const next: typeof frontier = [];
    for (const { call, value } of frontier) {
      if (!hasParam(value)) continue;
      const fn = functionAt(functions, code.rva[call]!);
      for (const c of fn ? (graph.callers.get(fn.rva) ?? []) : []) {
        if (seen.has(c.index)) continue;
        seen.add(c.index);
        let ambiguous = false;
        const up = normalize(
          substitute(value, (n) => {
            const vs = values.argument(c.index, n).map(normalize);
            if (vs.length !== 1) ambiguous = true;
            return vs[0] ?? { k: "unknown", why: "no argument" };
          }),
        );
        if (ambiguous) continue;
        out.push({ call: c.index, value: up });
        next.push({ call: c.index, value: up });
      }
    }
    frontier = next;
  }
  return out;
}
