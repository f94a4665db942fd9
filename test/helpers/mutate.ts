/**
 * Reproducible input mutation for robustness ("fuzz") tests of binary parsers.
 *
 * Usage:
 *   const failures = fuzz({ inputs: [{ name: "a.sys", bytes }], count: 3000, seed: 1,
 *     targets: { headers: (b) => parsePe(b), imports: (b) => readImports(parsePe(b)) } });
 *   assert.deepEqual(failures, []);
 *
 * Each mutant is identified by (seed, index): rerun with the same seed to reproduce a failure, or
 * call `mutant(base, seed, index, opts)` directly to get the exact bytes of one case.
 */

/** Small, fast, seedable PRNG (mulberry32). Returns floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Integer in [0, n). */
export function randInt(rng: () => number, n: number): number {
  return Math.floor(rng() * n);
}

/** A byte range [start, end) that mutations should favour (headers, a directory, a blob). */
export interface HotRange {
  start: number;
  end: number;
}

export interface MutateOptions {
  /** Ranges where most edits land; random edits in a large file rarely hit the structures. */
  hot?: HotRange[];
  /** Fraction of edits placed inside `hot` ranges (default 0.8 when hot ranges are given). */
  hotBias?: number;
  /** Maximum number of edits per mutant (default 8). */
  maxEdits?: number;
  /** Probability that the mutant is also truncated (default 0.25). */
  truncateChance?: number;
}

/** Values that commonly break length/offset/count handling. */
const INTERESTING_U32 = [
  0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe,
  0xffffffff,
];

function pickOffset(rng: () => number, length: number, opts: MutateOptions): number {
  const hot = opts.hot?.filter((h) => h.end > h.start && h.start < length) ?? [];
  if (hot.length > 0 && rng() < (opts.hotBias ?? 0.8)) {
    const h = hot[randInt(rng, hot.length)]!;
    const end = Math.min(h.end, length);
    return h.start + randInt(rng, end - h.start);
  }
  return randInt(rng, length);
}

/**
 * Returns a mutated copy of `base` plus a short description of what was done. Edits: random
 * byte, bit flip, interesting 32-bit value, copy of a chunk from elsewhere, zeroed run, and
 * truncation.
 */
export function mutate(
  base: Uint8Array,
  rng: () => number,
  opts: MutateOptions = {},
): { bytes: Uint8Array; what: string } {
  const edits: string[] = [];
  let out = new Uint8Array(base);
  if (out.length === 0) return { bytes: out, what: "empty" };
  const n = 1 + randInt(rng, opts.maxEdits ?? 8);
  for (let i = 0; i < n; i++) {
    const off = pickOffset(rng, out.length, opts);
    const kind = randInt(rng, 6);
    if (kind === 0) {
      out[off] = randInt(rng, 256);
      edits.push(`byte@${off}`);
    } else if (kind === 1) {
      out[off]! ^= 1 << randInt(rng, 8);
      edits.push(`bit@${off}`);
    } else if (kind === 2 || kind === 3) {
      const v = INTERESTING_U32[randInt(rng, INTERESTING_U32.length)]!;
      const width = kind === 2 ? 4 : 2;
      for (let b = 0; b < width && off + b < out.length; b++) out[off + b] = (v >>> (8 * b)) & 0xff;
      edits.push(`u${width * 8}=0x${v.toString(16)}@${off}`);
    } else if (kind === 4) {
      const len = 1 + randInt(rng, 64);
      const src = randInt(rng, out.length);
      out.copyWithin(off, src, Math.min(src + len, out.length));
      edits.push(`copy${len}@${off}`);
    } else {
      const len = 1 + randInt(rng, 32);
      out.fill(0, off, Math.min(off + len, out.length));
      edits.push(`zero${len}@${off}`);
    }
  }
  if (rng() < (opts.truncateChance ?? 0.25)) {
    // Truncate anywhere, but favour cuts near hot ranges where structure boundaries live.
    const cut = pickOffset(rng, out.length, opts);
    out = out.slice(0, cut);
    edits.push(`truncate@${cut}`);
  }
  return { bytes: out, what: edits.join(",") };
}

/** The exact mutant number `index` of a run with `seed` (for reproducing one failure). */
export function mutant(
  base: Uint8Array,
  seed: number,
  index: number,
  opts: MutateOptions = {},
): { bytes: Uint8Array; what: string } {
  return mutate(base, prng((seed * 0x9e3779b1 + index) >>> 0), opts);
}

export interface FuzzInput {
  name: string;
  bytes: Uint8Array;
  hot?: HotRange[];
}

export interface FuzzFailure {
  input: string;
  index: number;
  target: string;
  what: string;
  error: string;
}

export interface FuzzOptions {
  inputs: FuzzInput[];
  /** Total number of mutants, spread round-robin over the inputs. */
  count: number;
  seed: number;
  /** Functions to run on each mutant; each must return or throw an expected error. */
  targets: Record<string, (bytes: Uint8Array) => unknown>;
  /** Which thrown errors are acceptable (e.g. `(e) => e instanceof FormatError`). */
  isExpected: (err: unknown) => boolean;
  options?: Omit<MutateOptions, "hot">;
  /** Stop collecting after this many failures (default 20). */
  maxFailures?: number;
}

/**
 * Runs every target over `count` mutants and returns the failures: unexpected error types.
 * Synchronous targets cannot be interrupted, so parsers must cap their own loops (bounded by input
 * size); a hang shows as the test runner's timeout, and speed is the bench's business, not a test's.
 */
export function fuzz(o: FuzzOptions): FuzzFailure[] {
  const failures: FuzzFailure[] = [];
  const maxFailures = o.maxFailures ?? 20;
  for (let index = 0; index < o.count && failures.length < maxFailures; index++) {
    const input = o.inputs[index % o.inputs.length]!;
    const m = mutant(input.bytes, o.seed, index, { ...o.options, hot: input.hot });
    for (const [target, fn] of Object.entries(o.targets)) {
      try {
        fn(m.bytes);
      } catch (err) {
        if (!o.isExpected(err)) {
          const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
          failures.push({ input: input.name, index, target, what: m.what, error });
        }
      }
    }
  }
  return failures;
}
