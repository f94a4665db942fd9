/**
 * Reachability from entry points to write sites: depth-bounded BFS over the call graph, one
 * shortest call path per (entry, function containing a site). The search only enters functions
 * from which some site is reachable within the remaining depth (computed once, backwards).
 */
import type { CallGraph } from "./callgraph.js";
import type { EntryPoint } from "./entrypoints.js";

export interface Reach {
  entry: EntryPoint;
  /** Function rva containing the site. */
  target: number;
  /** Function rvas from the entry to the target, both included. */
  path: number[];
}

function calleeFunctions(graph: CallGraph, fn: number): number[] {
  const out: number[] = [];
  for (const s of graph.callees.get(fn) ?? []) if (s.callee.kind === "function") out.push(s.callee.rva);
  return out;
}

/** Distance (in calls) from each function to the nearest target, up to maxDepth-1. */
export function distanceToTargets(
  graph: CallGraph,
  targets: Iterable<number>,
  maxDepth: number,
): Map<number, number> {
  const dist = new Map<number, number>();
  let frontier: number[] = [];
  for (const t of targets) {
    if (!dist.has(t)) {
      dist.set(t, 0);
      frontier.push(t);
    }
  }
  for (let d = 1; d < maxDepth && frontier.length > 0; d++) {
    const next: number[] = [];
    for (const f of frontier) {
      for (const s of graph.callers.get(f) ?? []) {
        if (!dist.has(s.caller)) {
          dist.set(s.caller, d);
          next.push(s.caller);
        }
      }
    }
    frontier = next;
  }
  return dist;
}

/**
 * For each entry, the shortest path (at most maxDepth functions long) to every target function
 * it reaches.
 */
export function reachTargets(
  graph: CallGraph,
  entries: EntryPoint[],
  targets: Set<number>,
  maxDepth: number,
): Reach[] {
  const toTarget = distanceToTargets(graph, targets, maxDepth);
  // Every entry's search walks the same functions: their callee lists are built once.
  const callees = new Map<number, number[]>();
  const calleesOf = (f: number): number[] => {
    let l = callees.get(f);
    if (!l) callees.set(f, (l = calleeFunctions(graph, f)));
    return l;
  };
  const out: Reach[] = [];
  for (const entry of entries) {
    const d0 = toTarget.get(entry.rva);
    if (d0 === undefined) continue;
    const parent = new Map<number, number>([[entry.rva, -1]]);
    let frontier = [entry.rva];
    for (let depth = 1; depth <= maxDepth && frontier.length > 0; depth++) {
      const next: number[] = [];
      for (const f of frontier) {
        if (targets.has(f)) out.push({ entry, target: f, path: pathTo(parent, f) });
        if (depth === maxDepth) continue;
        for (const c of calleesOf(f)) {
          if (parent.has(c)) continue;
          const left = toTarget.get(c);
          if (left === undefined || depth + 1 + left > maxDepth) continue;
          parent.set(c, f);
          next.push(c);
        }
      }
      frontier = next;
    }
  }
  return out;
}

function pathTo(parent: Map<number, number>, f: number): number[] {
  const path: number[] = [];
  for (let cur = f; cur !== -1; cur = parent.get(cur) ?? -1) path.push(cur);
  return path.reverse();
}
