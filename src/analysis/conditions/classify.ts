/**
 * Classes of a branch predicate: `enabled` (an mc.exe context / EnableBits test or an enable-test
 * API), `status` (a call's result tested for failure or success), `feature` (a WIL feature flag or
 * a global flag compared with a constant), `other` for the rest. Only what the bytes show is
 * classified; nothing is guessed into a class.
 */
import type { CallSite } from "../callgraph.js";
import { ENABLE_APIS, MCGEN_CONTEXT, type McContext, WIL_FEATURE } from "./enable-sources.js";
import type { Predicate, Relation, Source } from "./predicate.js";

export type ConditionClass = "enabled" | "status" | "feature" | "other";
export type Outcome = "failure" | "success" | "unknown";

/** A classified guard, before it is placed in a chain (function, rva). */
export interface Classified {
  class: ConditionClass;
  /** The test as text, e.g. `EtwEventEnabled() != 0`, `[0x4f2a0] & 0x4 != 0`. */
  test: string;
  callee?: string;
  outcome?: Outcome;
  /** enabled: keyword mask and level the test enables, and where it reads them. */
  keyword?: string;
  level?: number;
  /** enabled by an API taking the event descriptor: the descriptor argument's instruction. */
  descriptorArg?: { call: number; n: number };
  provider?: string;
  /** feature: the global flag (or WIL feature function) tested. */
  flag?: { rva: string; symbol?: string };
  feature?: string;
  /** enabled: "flag" when the branch tests a flag the enable test set earlier (see flag.ts). */
  via?: "flag";
  /** via flag: rva of the enable test that guards the flag's store. */
  flagSetAt?: string;
}

export interface ClassifyEnv {
  contexts: McContext[];
  /** Call sites at an instruction index. */
  callsAt(index: number): CallSite[];
  /** Display name of what a call site reaches. */
  calleeName(site: CallSite): string;
  symbolAt(rva: number): string | undefined;
  /** A provider registration handle global: its provider GUID. */
  handleProvider(rva: number): string | undefined;
  /** Value of call argument n at a call, when it is a constant. */
  constArgument(call: number, n: number): bigint | undefined;
}

const hex = (v: bigint | number): string => "0x" + BigInt.asUintN(64, BigInt(v)).toString(16);

export function classify(p: Predicate, env: ClassifyEnv): Classified {
  const { left, right } = p;
  if (left.k === "call") return classifyCall(p, left.index, right, env);
  if (right.k === "call")
    return classifyCall({ ...p, rel: swap(p.rel), left: right, right: left }, right.index, left, env);
  if (left.k === "global") return classifyGlobal(p, left, right, env);
  if (right.k === "global" && left.k === "imm")
    return classifyGlobal({ ...p, rel: swap(p.rel), left: right, right: left }, right, left, env);
  return { class: "other", test: `${text(left, env)} ${p.rel} ${text(right, env)}` };
}

function swap(r: Relation): Relation {
  const m: Partial<Record<Relation, Relation>> = {
    "<": ">",
    ">": "<",
    "<=": ">=",
    ">=": "<=",
    "u<": "u>",
    "u>": "u<",
    "u<=": "u>=",
    "u>=": "u<=",
  };
  return m[r] ?? r;
}

function text(s: Source, env: ClassifyEnv): string {
  switch (s.k) {
    case "imm":
      return s.v < 0n || s.v > 9n ? hex(s.v) : String(s.v);
    case "global":
      return `[${env.symbolAt(s.rva) ?? hex(s.rva)}]`;
    case "call":
      return `${callName(s.index, env)}()`;
    case "other":
      return "value";
  }
}

function callName(index: number, env: ClassifyEnv): string {
  const sites = env.callsAt(index);
  return sites.length === 1 ? env.calleeName(sites[0]!) : "call";
}

/** Does this relation on a call's result read as its failure or its success? */
function statusOutcome(rel: Relation, k: bigint, width: number): Outcome {
  const v = BigInt.asIntN(width > 0 && width <= 8 ? width * 8 : 32, k);
  if (v === 0n) {
    if (rel === "<" || rel === "<=") return "failure"; // NTSTATUS / HRESULT < 0
    if (rel === ">=" || rel === ">") return "success";
    // BOOLEAN (a byte) is FALSE on failure; a 32-bit zero test is BOOL or NTSTATUS — not told apart.
    if (width === 1 && rel === "==") return "failure";
    if (width === 1 && rel === "!=") return "success";
    return "unknown";
  }
  // A specific error code (NTSTATUS / HRESULT with the high bit set).
  if (v < 0n && rel === "==") return "failure";
  return "unknown";
}

function classifyCall(p: Predicate, call: number, other: Source, env: ClassifyEnv): Classified {
  const sites = env.callsAt(call);
  const callee = sites.length === 1 ? env.calleeName(sites[0]!) : undefined;
  const bare = callee?.replace(/^.*!/, "");
  const k = other.k === "imm" ? other.v : undefined;
  const nonZero = k === 0n && (p.rel === "!=" || p.rel === "u>" || (p.rel === ">" && p.width === 1));
  const test = `${callee ?? "call"}() ${p.rel} ${other.k === "imm" ? text(other, env) : "value"}`;
  if (bare && ENABLE_APIS[bare] && k === 0n) {
    if (!nonZero) return { class: "other", test, callee };
    const spec = ENABLE_APIS[bare]!;
    const out: Classified = { class: "enabled", test, callee };
    if (spec.descriptor !== undefined) out.descriptorArg = { call, n: spec.descriptor };
    if (spec.keyword !== undefined) {
      const kw = env.constArgument(call, spec.keyword);
      if (kw !== undefined) out.keyword = hex(kw);
    }
    if (spec.level !== undefined) {
      const lv = env.constArgument(call, spec.level);
      if (lv !== undefined) out.level = Number(lv & 0xffn);
    }
    return out;
  }
  if (bare && WIL_FEATURE.test(bare)) {
    if (k !== 0n) return { class: "other", test, callee };
    if (!nonZero) return { class: "other", test, callee };
    return {
      class: "feature",
      test,
      callee,
      feature: bare.replace(/__private_.*$/, ""),
    };
  }
  if (k === undefined || !callee) return { class: "other", test, ...(callee ? { callee } : {}) };
  return { class: "status", test, callee, outcome: statusOutcome(p.rel, k, p.width) };
}

function classifyGlobal(
  p: Predicate,
  g: Extract<Source, { k: "global" }>,
  other: Source,
  env: ClassifyEnv,
): Classified {
  const test = `${text(g, env)} ${p.rel === "bits-set" ? `& ${text(other, env)} != 0` : p.rel === "bits-clear" ? `& ${text(other, env)} == 0` : `${p.rel} ${text(other, env)}`}`;
  if (other.k !== "imm") return { class: "other", test };
  let mask = other.v;
  // `test al, al; js` on a loaded byte tests its top bit.
  if ((p.rel === "<" || p.rel === ">=") && mask === 0n && g.size > 0) {
    p = { ...p, rel: p.rel === "<" ? "bits-set" : "bits-clear" };
    mask = 1n << BigInt(g.size * 8 - 1);
  }
  for (const c of env.contexts) {
    const bits = c.bits;
    if (bits && g.rva >= bits.rva && g.rva < bits.rva + 4 * Math.ceil(bits.keywords.length / 32)) {
      // EnableBits[i >> 5] & (1 << (i & 31)): the bit names one keyword/level pair.
      if (p.rel !== "bits-set") return { class: "other", test };
      const set: number[] = [];
      const m = BigInt.asUintN(Math.max(8, g.size * 8), mask);
      for (let b = 0; b < 64; b++) if ((m >> BigInt(b)) & 1n) set.push((g.rva - bits.rva) * 8 + b);
      const out: Classified = { class: "enabled", test, provider: c.guid };
      if (set.length === 1 && set[0]! < bits.keywords.length) {
        out.keyword = hex(bits.keywords[set[0]!]!);
        out.level = bits.levels[set[0]!]!;
      }
      return out;
    }
    const off = g.rva - c.rva;
    const lv = off === MCGEN_CONTEXT.level ? contextLevel(p, [c]) : undefined;
    if (lv && (p.rel === "u>=" || p.rel === "u>"))
      return { class: "enabled", test, provider: c.guid, level: lv.level };
    if (off === MCGEN_CONTEXT.isEnabled && g.size === 4 && mask === 0n && p.rel === "!=")
      return { class: "enabled", test, provider: c.guid };
    if (
      (off === MCGEN_CONTEXT.matchAnyKeyword || off === MCGEN_CONTEXT.matchAllKeyword) &&
      g.size === 8 &&
      p.rel === "bits-set"
    )
      return { class: "enabled", test, provider: c.guid, keyword: hex(mask) };
  }
  const handleGuid = env.handleProvider(g.rva);
  if (handleGuid && mask === 0n && p.rel === "!=") return { class: "enabled", test, provider: handleGuid };
  const symbol = env.symbolAt(g.rva);
  const flag: Classified["flag"] = { rva: hex(g.rva) };
  if (symbol) flag.symbol = symbol;
  const out: Classified = { class: "feature", test, flag };
  if (symbol && WIL_FEATURE.test(symbol)) out.feature = symbol.replace(/__private_.*$/, "");
  return out;
}

/** A compare of an mc.exe context's Level byte with a constant: the event level it admits. */
export function contextLevel(
  p: Predicate,
  contexts: McContext[],
): { guid: string; level: number } | undefined {
  if (p.left.k !== "global" || p.right.k !== "imm" || p.left.size !== 1) return undefined;
  const ctx = contexts.find((c) => p.left.k === "global" && p.left.rva - c.rva === MCGEN_CONTEXT.level);
  if (!ctx) return undefined;
  const k = Number(p.right.v & 0xffn);
  // Level + plus >= K (or its negation on the other edge), Level + plus > K the same with K + 1.
  const bound = p.rel === "u>=" || p.rel === "u<" ? k : p.rel === "u>" || p.rel === "u<=" ? k + 1 : undefined;
  return bound === undefined ? undefined : { guid: ctx.guid, level: bound - (p.left.plus ?? 0) };
}
