/**
 * Budgets the analysis had to enforce, so none is silent: every place that stops early (wrapper
 * combinations, a work budget that scales with the image, the value resolver's step budget) records
 * it here, and `analyzeProgram` turns the records into report notes (shown by `analyze` and stored
 * as `scan` notes of the image).
 *
 * One log per analysed program, keyed by the program's shared ValueResolver, so recognizers need
 * no extra parameter.
 */

interface Hit {
  count: number;
  /** What was cut and how to get it (first occurrence's wording). */
  detail: string;
  example?: string;
}

export class LimitLog {
  private readonly hits = new Map<string, Hit>();

  /** Records one budget hit: `name` groups them, `detail` says what was cut. */
  hit(name: string, detail: string, example?: string): void {
    const h = this.hits.get(name);
    if (h) h.count++;
    else this.hits.set(name, { count: 1, detail, ...(example ? { example } : {}) });
  }

  get size(): number {
    return this.hits.size;
  }

  count(name: string): number {
    return this.hits.get(name)?.count ?? 0;
  }

  notes(): string[] {
    return [...this.hits].map(
      ([name, h]) =>
        `limit ${name} hit ${h.count}×: ${h.detail}${h.example ? ` (first at ${h.example})` : ""}`,
    );
  }
}

const logs = new WeakMap<object, LimitLog>();

/** The limit log of the program that owns `owner` (its ValueResolver). */
export function limitLog(owner: object): LimitLog {
  let log = logs.get(owner);
  if (!log) logs.set(owner, (log = new LimitLog()));
  return log;
}

const edgeCounts = new WeakMap<object, number>();

/**
 * A work budget that grows with the image: `perEdge` units per call edge of the graph, at least
 * `floor`. Caps that do not scale drop answers in exactly the large binaries that matter.
 */
export function scaledBudget(graph: { sites: unknown[] }, perEdge: number, floor: number): number {
  let edges = edgeCounts.get(graph);
  if (edges === undefined) edgeCounts.set(graph, (edges = graph.sites.length));
  return Math.max(floor, edges * perEdge);
}
