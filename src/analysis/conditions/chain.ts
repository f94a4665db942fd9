/**
 * Conditions of a write site along one entry chain: the guards of the write call in its function,
 * of each wrapper call on the way to the API, and of the call sites in each caller on the call
 * path (a caller calling the next function from several places keeps only the guards all those
 * calls share). Each guard is classified once per branch and cached.
 */
import type { CallSite } from "../callgraph.js";
import { indexAt } from "../disasm.js";
import { type FunctionInfo, functionAt, functionName } from "../functions.js";
import type { LoadedProgram } from "../program.js";
import { decodeDescriptor } from "../recognizers/manifest.js";
import type { WriteFinding } from "../recognizers/types.js";
import { buildCfg, type Cfg } from "./cfg.js";
import { type Classified, type ClassifyEnv, classify } from "./classify.js";
import { type ControlDependence, controlDependence } from "./control-dependence.js";
import { mcContexts } from "./enable-sources.js";
import { branchPredicate } from "./predicate.js";

/** One guard of a write on one chain, as reported. */
export interface Condition extends Omit<Classified, "descriptorArg"> {
  /** Function holding the branch, and the branch's rva. */
  function: string;
  at: string;
  /** enabled: whether the keyword / level tested agree with the event's own descriptor. */
  matches?: boolean;
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
}

export function conditionAnalyzer(program: LoadedProgram): ConditionAnalyzer {
  const { code, functions, graph, context } = program;
  const readU32 = (rva: number): number | undefined => {
    const b = context.values.imageBytes(rva, 4);
    return b ? (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0 : undefined;
  };
  const contexts = mcContexts(context);
  let byIndex: Map<number, CallSite[]> | undefined;
  const handleGuid = new Map<number, string>();
  for (const p of context.providers.list) if (p.handleRva !== undefined) handleGuid.set(p.handleRva, p.guid);
  const env: ClassifyEnv = {
    contexts,
    callsAt(index) {
      if (!byIndex) {
        byIndex = new Map();
        for (const s of graph.sites) {
          const l = byIndex.get(s.index);
          if (l) l.push(s);
          else byIndex.set(s.index, [s]);
        }
      }
      return byIndex.get(index) ?? [];
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
  const byCall = new Map<number, RawCondition[]>();
  /** Guards of the instruction at `index`, classified. */
  const guardsOf = (index: number): RawCondition[] => {
    const cached = byCall.get(index);
    if (cached) return cached;
    const owner = functionAt(functions, code.rva[index]!);
    const flow = owner ? flowOf(owner.rva) : undefined;
    const out: RawCondition[] = [];
    if (flow) {
      const b = flow.cfg.blockOf(index);
      if (b >= 0) {
        for (const g of flow.cd.guards(b)) {
          const jcc = flow.cfg.blocks[g.branch]!.last - 1;
          const p = branchPredicate(code, flow.cfg, g.branch, g.taken);
          const c: Classified = p ? classify(p, env) : { class: "other", test: "flags not modelled" };
          out.push({ ...c, function: functionName(flow.fn), at: "0x" + code.rva[jcc]!.toString(16) });
        }
      }
    }
    byCall.set(index, out);
    return out;
  };
  const key = (c: RawCondition): string => `${c.at}:${c.test}`;
  /** Guards shared by every call from `caller` to `callee`. */
  const callGuards = (caller: number, callee: number): RawCondition[] => {
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
  return {
    forFinding(f, path, descriptor) {
      const raw: RawCondition[] = [];
      for (let k = 0; k + 1 < path.length; k++) raw.push(...callGuards(path[k]!, path[k + 1]!));
      const chain = [f.index, ...f.via.slice(1).map((rva) => indexAt(code, rva))].filter((i) => i >= 0);
      // The write's own function and each wrapper on the way to the API (from the reporting
      // function's call down), with the arguments of the call above for descriptor parameters.
      for (const i of chain) raw.push(...guardsOf(i));
      const conditions: Condition[] = raw.map((r) => {
        const { descriptorArg, ...rest } = r;
        const c: Condition = { ...rest };
        if (c.class === "enabled") {
          if (descriptorArg) {
            const d = descriptorAt(descriptorArg, chain);
            if (d) Object.assign(c, d);
          }
          const m = agrees(c, descriptor);
          if (m !== undefined) c.matches = m;
        }
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
