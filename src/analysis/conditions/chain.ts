/**
 * Conditions of a write site along one entry chain: the guards of the write call in its function,
 * of each wrapper call on the way to the API, and of the call sites in each caller on the call
 * path (a caller calling the next function from several places keeps only the guards all those
 * calls share). Each guard is classified once per branch and cached.
 */
import { gpr64, indexAt, M, Op, Reg } from "../disasm.js";
import { type FunctionInfo, functionAt, functionName } from "../functions.js";
import type { LoadedProgram } from "../program.js";
import { decodeDescriptor } from "../recognizers/manifest.js";
import type { WriteFinding } from "../recognizers/types.js";
import { writesMemory } from "../register-writes.js";
import { registerWritesOf } from "../values.js";
import { addressTakenFunctions } from "./address-taken.js";
import { buildCfg, type Cfg } from "./cfg.js";
import { type Classified, type ClassifyEnv, classify, contextLevel } from "./classify.js";
import { type ControlDependence, controlDependence } from "./control-dependence.js";
import { mcContexts } from "./enable-sources.js";
import { type FlagEnv, flagEnable } from "./flag.js";
import { branchPredicate, type Predicate } from "./predicate.js";

/** Callers looked at for the guards a function's callers share. */
const MAX_SHARED_CALLERS = 16;

/** One guard of a write on one chain, as reported. */
export interface Condition extends Omit<Classified, "descriptorArg"> {
  /** Function holding the branch, and the branch's rva. */
  function: string;
  at: string;
  /** enabled: whether the keyword / level tested agree with the event's own descriptor. */
  matches?: boolean;
  /** Found at every one of this many call sites of the chain's first function (a site no entry reaches). */
  callers?: number;
}

export type Logged = "on failure" | "on success" | "both" | "unknown";

/** The descriptor facts a site writes (manifest / TraceLogging), to compare enable tests with. */
export interface SiteDescriptor {
  keyword?: string;
  level?: number;
}

export interface ConditionAnalyzer {
  forFinding(
    f: WriteFinding,
    path: number[],
    descriptor: SiteDescriptor,
  ): { conditions: Condition[]; logged: Logged };
}

interface FunctionFlow {
  fn: FunctionInfo;
  cfg: Cfg;
  cd: ControlDependence;
}

/** Guard of one call, before the descriptor comparison. */
interface RawCondition extends Classified {
  function: string;
  at: string;
  callers?: number;
}

export function conditionAnalyzer(program: LoadedProgram): ConditionAnalyzer {
  const { code, functions, graph, context } = program;
  const readU32 = (rva: number): number | undefined => {
    const b = context.values.imageBytes(rva, 4);
    return b ? (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0 : undefined;
  };
  const contexts = mcContexts(context);
  const handleGuid = new Map<number, string>();
  for (const p of context.providers.list) if (p.handleRva !== undefined) handleGuid.set(p.handleRva, p.guid);
  const env: ClassifyEnv = {
    contexts,
    callsAt(index) {
      // The call sites of the function holding the call (graph.callees), not a map of all sites.
      const owner = functionAt(functions, code.rva[index]!);
      return owner ? (graph.callees.get(owner.rva) ?? []).filter((x) => x.index === index) : [];
    },
    calleeName(site) {
      if (site.callee.kind === "import") return site.callee.name;
      const f = functions.byRva.get(site.callee.rva);
      return f ? functionName(f) : `sub_${site.callee.rva.toString(16).toUpperCase()}`;
    },
    symbolAt: (rva) => context.symbolAt(rva),
    handleProvider: (rva) => handleGuid.get(rva),
    constArgument(call, n) {
      const vs = context.values.argument(call, n);
      return vs.length === 1 && vs[0]!.k === "imm" ? vs[0]!.v : undefined;
    },
  };
  const flows = new Map<number, FunctionFlow | undefined>();
  const flowOf = (fnRva: number): FunctionFlow | undefined => {
    if (flows.has(fnRva)) return flows.get(fnRva);
    const fn = functions.byRva.get(fnRva);
    let out: FunctionFlow | undefined;
    if (fn) {
      const cfg = buildCfg(code, fn, readU32);
      out = { fn, cfg, cd: controlDependence(cfg) };
    }
    flows.set(fnRva, out);
    return out;
  };
  const writes = registerWritesOf(context.pe, code);
  /** Functions whose address the image takes, built the first time a flag needs it. */
  let taken: Set<number> | undefined;
  const flagEnv: FlagEnv = {
    code,
    values: context.values,
    flowOf,
    callers: (fnRva) => graph.callers.get(fnRva) ?? [],
    guardsOf: (index) => guardsOf(index, false),
    callWritesMemory: (call) =>
      code.op0[call] !== Op.Branch || writesMemory(writes, code, functions, code.addr[call]!),
    memoryWrite: (i) => writes.memoryWrite(i),
    addressTaken: (fnRva) => {
      taken ??= addressTakenFunctions(program.pe, code, program.exports);
      return taken.has(fnRva);
    },
  };
  /**
   * The predicate's short walk gives up where paths merge far back (`test [EnableBits], r13b` with
   * r13 set to 1 on each of several paths); the value resolver follows every path: a register
   * second operand with one constant value on all of them is that constant. Asked only for a
   * global's test and a byte register's compare (a flag): the resolver is costly.
   */
  const withResolvedMask = (p: Predicate | undefined): Predicate | undefined => {
    if (p?.right.k !== "other" || code.op1[p.setter] !== Op.Reg) return p;
    // Only where a constant can make a class: a global's mask, or a byte flag register's zero.
    if (p.left.k !== "global" && !(p.left.k === "other" && p.width === 1 && code.op0[p.setter] === Op.Reg))
      return p;
    const vs = context.values.registerAt(p.setter, gpr64(code.reg1[p.setter]!));
    const v = vs[0];
    if (vs.length !== 1 || v?.k !== "imm") return p;
    return { ...p, right: { k: "imm", v: v.v } };
  };
  /**
   * The class of one way of one branch (block `branch` of the flow, `taken` or not; `flags` as for
   * guardsOf): the same for every call that branch guards, so found once per branch way.
   */
  const branchClasses = new Map<FunctionFlow, Map<number, Classified>>();
  const branchClass = (flow: FunctionFlow, branch: number, taken: boolean, flags: boolean): Classified => {
    let known = branchClasses.get(flow);
    if (!known) branchClasses.set(flow, (known = new Map()));
    const key = branch * 4 + (taken ? 2 : 0) + (flags ? 1 : 0);
    let c = known.get(key);
    if (!c) {
      const p = withResolvedMask(branchPredicate(code, flow.cfg, branch, taken));
      c = p ? classify(p, env) : { class: "other", test: "flags not modelled" };
      if (flags && p && c.class === "other") c = flagEnable(p, flow, flagEnv) ?? c;
      known.set(key, c);
    }
    return c;
  };
  const byCall = new Map<number, RawCondition[]>();
  const byCallNoFlags = new Map<number, RawCondition[]>();
  /**
   * Guards of the instruction at `index`, classified; `flags`: a branch testing a flag is
   * followed to the enable test that set it (not when classifying the flag's own stores).
   */
  const guardsOf = (index: number, flags = true): RawCondition[] => {
    const cache = flags ? byCall : byCallNoFlags;
    const cached = cache.get(index);
    if (cached) return cached;
    const owner = functionAt(functions, code.rva[index]!);
    const flow = owner ? flowOf(owner.rva) : undefined;
    const out: RawCondition[] = [];
    if (flow) {
      const b = flow.cfg.blockOf(index);
      if (b >= 0) {
        for (const g of flow.cd.guards(b)) {
          const jcc = flow.cfg.blocks[g.branch]!.last - 1;
          const c = branchClass(flow, g.branch, g.taken, flags);
          out.push({ ...c, function: functionName(flow.fn), at: "0x" + code.rva[jcc]!.toString(16) });
        }
        // mc.exe's inline check `Level >= L || Level == 0` is an OR, so no single branch of it
        // guards the write; the dominating compare still names the level the keyword test goes with.
        if (out.some((c) => c.class === "enabled" && c.keyword !== undefined && c.level === undefined)) {
          for (const d of flow.cd.dominators(b)) {
            const blk = flow.cfg.blocks[d]!;
            if (blk.taken === undefined) continue;
            const p = branchPredicate(code, flow.cfg, d, true);
            const lv = p && contextLevel(p, contexts);
            if (!lv) continue;
            for (const c of out)
              if (
                c.class === "enabled" &&
                c.provider === lv.guid &&
                c.keyword !== undefined &&
                c.level === undefined
              )
                c.level = lv.level;
          }
        }
      }
    }
    cache.set(index, out);
    return out;
  };
  const key = (c: RawCondition): string => `${c.at}:${c.test}`;
  /** Guards shared by every call from `caller` to `callee`. */
  const pairGuards = new Map<string, RawCondition[]>();
  const callGuards = (caller: number, callee: number): RawCondition[] => {
    const pair = `${caller}>${callee}`;
    const cached = pairGuards.get(pair);
    if (cached) return cached;
    const out = computeCallGuards(caller, callee);
    pairGuards.set(pair, out);
    return out;
  };
  const computeCallGuards = (caller: number, callee: number): RawCondition[] => {
    const sites = (graph.callees.get(caller) ?? []).filter(
      (s) => s.callee.kind === "function" && s.callee.rva === callee,
    );
    if (sites.length === 0) return [];
    let common = guardsOf(sites[0]!.index);
    for (const s of sites.slice(1)) {
      const keys = new Set(guardsOf(s.index).map(key));
      common = common.filter((c) => keys.has(key(c)));
    }
    return common;
  };
  /**
   * Guards every direct caller of `fn` shares (same class and test), when it has a few callers and
   * none of them calls it with a tail jump: they hold whenever `fn` runs from inside the image.
   */
  const sharedByFunction = new Map<number, RawCondition[]>();
  const sharedCallerGuards = (fn: number): RawCondition[] => {
    let out = sharedByFunction.get(fn);
    if (!out) sharedByFunction.set(fn, (out = computeSharedCallerGuards(fn)));
    return out;
  };
  const computeSharedCallerGuards = (fn: number): RawCondition[] => {
    const sites = graph.callers.get(fn) ?? [];
    if (sites.length === 0 || sites.length > MAX_SHARED_CALLERS || sites.some((x) => x.tail)) return [];
    const sameTest = (c: RawCondition): string => `${c.class}:${c.test}`;
    let common = guardsOf(sites[0]!.index).filter((c) => c.class !== "other");
    for (const x of sites.slice(1)) {
      const keys = new Set(guardsOf(x.index).map(sameTest));
      common = common.filter((c) => keys.has(sameTest(c)));
    }
    return common.map((c) => ({ ...c, callers: sites.length }));
  };
  const descriptorAt = (arg: { call: number; n: number }, chain: number[]): SiteDescriptor | undefined => {
    const vs = context.values.argument(arg.call, arg.n);
    if (vs.length !== 1) return undefined;
    let v = vs[0]!;
    // A wrapper's parameter: the descriptor its caller on the chain passes.
    const owner = functionAt(functions, code.rva[arg.call]!);
    const pos = chain.findIndex((i) => functionAt(functions, code.rva[i]!) === owner);
    for (let k = pos - 1; v.k === "param" && k >= 0; k--) {
      const up = context.values.argument(chain[k]!, v.n);
      if (up.length !== 1) return undefined;
      v = up[0]!;
    }
    if (v.k !== "addr") return undefined;
    const bytes = context.values.imageBytes(v.rva, 16);
    if (!bytes) return undefined;
    const d = decodeDescriptor(bytes);
    return { keyword: d.keyword, level: d.level };
  };
  /** descriptorLoad per finding: every row of a finding (one per entry reaching it) asks. */
  const loads = new Map<WriteFinding, number | undefined>();
  const descriptorLoadOnce = (f: WriteFinding): number | undefined => {
    if (loads.has(f)) return loads.get(f);
    const out = descriptorLoad(f);
    loads.set(f, out);
    return out;
  };
  /** The only `lea r, [rip+descriptor]` of the finding's function, when it is not in the call's block. */
  const descriptorLoad = (f: WriteFinding): number | undefined => {
    if (f.event.kind !== "manifest" || f.event.descriptorRva === undefined) return undefined;
    const flow = flowOf(f.function);
    if (!flow) return undefined;
    let found: number | undefined;
    for (const r of [flow.fn, ...(flow.fn.fragments ?? [])]) {
      for (let i = r.first; i < r.last; i++) {
        if (code.mnem[i] !== M.Lea || code.memBase[i] !== Reg.RIP || code.addr[i] !== f.event.descriptorRva)
          continue;
        if (found !== undefined) return undefined;
        found = i;
      }
    }
    if (found === undefined || flow.cfg.blockOf(found) === flow.cfg.blockOf(f.index)) return undefined;
    return found;
  };
  /** Per finding: its call and each wrapper call on the way to the API (instruction indices). */
  const chains = new Map<WriteFinding, number[]>();
  /** The reported form of each guard that is not an enable test (rows share it). */
  const reported = new Map<RawCondition, Condition>();
  return {
    forFinding(f, path, descriptor) {
      const raw: RawCondition[] = [];
      // A site no entry reaches: what all callers of its function check first.
      if (path.length === 1) raw.push(...sharedCallerGuards(path[0]!));
      for (let k = 0; k + 1 < path.length; k++) raw.push(...callGuards(path[k]!, path[k + 1]!));
      let chain = chains.get(f);
      if (!chain) {
        chain = [f.index, ...f.via.slice(1).map((rva) => indexAt(code, rva))].filter((i) => i >= 0);
        chains.set(f, chain);
      }
      // The write's own function and each wrapper on the way to the API (from the reporting
      // function's call down), with the arguments of the call above for descriptor parameters.
      for (const i of chain) raw.push(...guardsOf(i));
      // One call writing several events (paths merging before it): the path that loads this
      // event's descriptor has guards of its own.
      const load = descriptorLoadOnce(f);
      if (load !== undefined) {
        const have = new Set(raw.map(key));
        for (const c of guardsOf(load)) if (!have.has(key(c))) raw.push(c);
      }
      const conditions: Condition[] = raw.map((r) => {
        // A guard that is not an enable test reads the same on every row: one object for all.
        if (r.class !== "enabled") {
          let same = reported.get(r);
          if (!same) {
            const { descriptorArg: _, ...rest } = r;
            reported.set(r, (same = rest));
          }
          return same;
        }
        const { descriptorArg, ...c } = r;
        if (descriptorArg) {
          const d = descriptorAt(descriptorArg, chain);
          if (d) Object.assign(c, d);
        }
        const m = agrees(c, descriptor);
        if (m !== undefined) (c as Condition).matches = m;
        return c;
      });
      return { conditions, logged: loggedReading(conditions) };
    },
  };
}

/** Keyword / level of an enable test against the event's descriptor (undefined: nothing to compare). */
function agrees(c: Condition, d: SiteDescriptor): boolean | undefined {
  let out: boolean | undefined;
  if (c.keyword !== undefined && d.keyword !== undefined) out = BigInt(c.keyword) === BigInt(d.keyword);
  if (c.level !== undefined && d.level !== undefined) out = (out ?? true) && c.level === d.level;
  return out;
}

/** The failure/success reading of a whole chain from its status conditions. */
export function loggedReading(conditions: Condition[]): Logged {
  const outcomes = new Set(conditions.filter((c) => c.class === "status").map((c) => c.outcome ?? "unknown"));
  if (outcomes.size === 0) return "both";
  if (outcomes.has("unknown") || outcomes.size > 1) return "unknown";
  return outcomes.has("failure") ? "on failure" : "on success";
}
