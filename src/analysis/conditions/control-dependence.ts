/**
 * Guards of a block: control dependence over a function CFG (post-dominators on the reversed graph
 * with a virtual exit, then the conditional edges a block depends on, transitively), kept when the
 * branch also dominates the block and its other edge cannot reach the block — the branches that
 * must go one way for the block to run. Loop back edges and branches needed both ways are left out.
 */
import type { Cfg } from "./cfg.js";

/** One branch outcome a block needs: block `branch` (ending in a Jcc) goes to `taken` or falls through. */
export interface Guard {
  branch: number;
  taken: boolean;
}

export interface ControlDependence {
  guards(b: number): Guard[];
  /** Blocks that dominate b (entry first), b excluded. */
  dominators(b: number): number[];
}

/** Immediate dominators over `succ` from `root` (Cooper–Harvey–Kennedy); -1 where unreachable. */
function immediateDominators(n: number, succ: number[][], preds: number[][], root: number): Int32Array {
  const order: number[] = [];
  const seen = new Uint8Array(n);
  const stack: Array<[number, number]> = [[root, 0]];
  seen[root] = 1;
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const ss = succ[top[0]]!;
    if (top[1] < ss.length) {
      const s = ss[top[1]++]!;
      if (!seen[s]) {
        seen[s] = 1;
        stack.push([s, 0]);
      }
    } else {
      order.push(top[0]);
      stack.pop();
    }
  }
  order.reverse();
  const rank = new Int32Array(n).fill(-1);
  order.forEach((x, i) => {
    rank[x] = i;
  });
  const idom = new Int32Array(n).fill(-1);
  idom[root] = root;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while (rank[a]! > rank[b]!) a = idom[a]!;
      while (rank[b]! > rank[a]!) b = idom[b]!;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const x of order) {
      if (x === root) continue;
      let nd = -1;
      for (const p of preds[x]!) {
        if (idom[p] === -1) continue;
        nd = nd === -1 ? p : intersect(p, nd);
      }
      if (nd !== -1 && idom[x] !== nd) {
        idom[x] = nd;
        changed = true;
      }
    }
  }
  return idom;
}

/** Pre/post numbering of a tree given by parent links: "a is an ancestor of b" in O(1). */
function ancestry(n: number, parent: Int32Array, root: number): (a: number, b: number) => boolean {
  const children: number[][] = Array.from({ length: n }, () => []);
  for (let x = 0; x < n; x++) if (x !== root && parent[x]! >= 0) children[parent[x]!]!.push(x);
  const pre = new Int32Array(n).fill(-1);
  const post = new Int32Array(n).fill(-1);
  let clock = 0;
  const st: Array<[number, number]> = [[root, 0]];
  pre[root] = clock++;
  while (st.length > 0) {
    const top = st[st.length - 1]!;
    const cs = children[top[0]]!;
    if (top[1] < cs.length) {
      const c = cs[top[1]++]!;
      pre[c] = clock++;
      st.push([c, 0]);
    } else {
      post[top[0]] = clock++;
      st.pop();
    }
  }
  return (a, b) => pre[a]! >= 0 && pre[b]! >= 0 && pre[a]! <= pre[b]! && post[b]! <= post[a]!;
}

export function controlDependence(cfg: Cfg): ControlDependence {
  const n = cfg.blocks.length + 1;
  const exit = cfg.exit;
  // Blocks that never reach the exit (endless loops, noreturn tails) get an edge to it so that every
  // block has a post-dominator.
  const reachesExit = new Uint8Array(n);
  const work = [exit];
  reachesExit[exit] = 1;
  while (work.length > 0) {
    const x = work.pop()!;
    for (const p of cfg.preds[x]!) {
      if (reachesExit[p]) continue;
      reachesExit[p] = 1;
      work.push(p);
    }
  }
  const succ: number[][] = cfg.blocks.map((b, k) => (reachesExit[k] ? b.succ : [...b.succ, exit]));
  succ.push([]);
  const preds: number[][] = Array.from({ length: n }, () => []);
  succ.forEach((ss, k) => {
    for (const s of ss) preds[s]!.push(k);
  });
  const ipdom = immediateDominators(n, preds, succ, exit);
  const idom = immediateDominators(n, succ, preds, cfg.entry);
  const dominates = ancestry(n, idom, cfg.entry);
  const branches: number[] = [];
  cfg.blocks.forEach((b, k) => {
    if (b.taken !== undefined && b.fall !== undefined && b.taken !== b.fall) branches.push(k);
  });
  /**
   * The branch outcomes each block directly depends on: (a, way) when the block post-dominates a's
   * successor that way but does not strictly post-dominate a (then it runs whatever a decides).
   * Those blocks are the post-dominator tree path from the successor up to ipdom(a), exclusive
   * (Ferrante–Ottenstein–Warren), so one walk per edge fills every block's list, branches in
   * ascending order, taken before fall-through.
   */
  let direct: Guard[][] | undefined;
  const directOf = (t: number): Guard[] => {
    if (!direct) {
      const lists: Guard[][] = Array.from({ length: n }, () => []);
      for (const a of branches) {
        const blk = cfg.blocks[a]!;
        const stop = ipdom[a]!;
        for (const [s, taken] of [
          [blk.taken!, true],
          [blk.fall!, false],
        ] as const) {
          if (ipdom[s]! < 0) continue; // not in the tree: post-dominated by nothing
          for (let x = s; x !== stop; x = ipdom[x]!) {
            lists[x]!.push({ branch: a, taken });
            if (x === exit) break;
          }
        }
      }
      direct = lists;
    }
    return direct[t]!;
  };
  /** Does `from` reach t without going through `avoid`? */
  const reachesAvoiding = (from: number, t: number, avoid: number): boolean => {
    if (from === t) return true;
    if (from === avoid) return false;
    const seen = new Uint8Array(n);
    seen[from] = 1;
    seen[avoid] = 1;
    const todo = [from];
    while (todo.length > 0) {
      const x = todo.pop()!;
      for (const s of succ[x]!) {
        if (s === t) return true;
        if (!seen[s]) {
          seen[s] = 1;
          todo.push(s);
        }
      }
    }
    return false;
  };
  return {
    guards(b) {
      const found = new Map<number, Set<boolean>>();
      const todo = [b];
      const visited = new Set<number>([b]);
      while (todo.length > 0) {
        const x = todo.pop()!;
        for (const g of directOf(x)) {
          const ways = found.get(g.branch) ?? new Set<boolean>();
          ways.add(g.taken);
          found.set(g.branch, ways);
          if (!visited.has(g.branch)) {
            visited.add(g.branch);
            todo.push(g.branch);
          }
        }
      }
      const out: Guard[] = [];
      for (const [a, ways] of found) {
        if (ways.size !== 1 || a === b || !dominates(a, b)) continue;
        const taken = [...ways][0]!;
        const blk = cfg.blocks[a]!;
        // The other way must not lead to b too (an `a || c` test needs neither alone).
        if (reachesAvoiding(taken ? blk.fall! : blk.taken!, b, a)) continue;
        out.push({ branch: a, taken });
      }
      return out.sort((x, y) => cfg.blocks[x.branch]!.first - cfg.blocks[y.branch]!.first);
    },
    dominators(b) {
      const out: number[] = [];
      for (let x = idom[b]!; x >= 0 && x !== b; x = idom[x]!) {
        out.push(x);
        if (x === cfg.entry) break;
      }
      return out.reverse();
    },
  };
}
