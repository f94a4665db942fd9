/**
 * Names for a handle's place relative to a function's parameter (issue 16, handles in context
 * structs and objects), so that a registration into `&p->Handle` and a write of `p->Handle` meet
 * when the bytes say both `p` are the same object or objects of the same class:
 *
 * - *frame*: `param n + off` of one function. Within a function the parameter is one object: a
 *   registration there (`if (!p->h) EventRegister(..., &p->h)`) and a write there, each possibly
 *   through wrappers, name the same field (fveapi.dll).
 * - *class*: `vtable V + off`. A function installing V at `this + d` (its constructor) names
 *   `this + R` as `V + (R - d)`; a virtual method reached only through V's slots names `this + off`
 *   as `V + off` (vtables.ts). A constructor registering into `this + R` and a method writing
 *   `[this + off]` then meet (msmpeg2adec.dll's decoder object, its handle 0x108 bytes in).
 *
 * Objects that only share an offset (two functions' parameters nobody resolves) never meet.
 */
import { functionAt } from "./functions.js";
import type { AnalysisContext } from "./recognizers/types.js";
import { normalize, offsetValue, type Value } from "./values.js";
import { vtableFacts } from "./vtables.js";

type Program = Pick<AnalysisContext, "pe" | "code" | "functions" | "graph" | "values">;

export interface ParameterPlaces {
  /** Names that each denote this very place (the frame, the constructor's classes). */
  same: string[];
  /**
   * Names of which the place is one (a virtual method in several vtables: its `this` may belong to
   * any of them); a provider is named only when every one of them names it.
   */
  oneOf: string[];
}

/** Pointer members followed from the parameter to the handle (`this->logger->handle`: 1). */
const MAX_DEREFS = 3;

/**
 * Places of an address `param n + off` (a `ptr` or a bare `param`) as seen in the function holding
 * instruction `at`, or of an address inside an object such a place points to (`[param n + a] + b`,
 * named `*place+b`; at most MAX_DEREFS pointers); undefined for other values.
 */
export function parameterPlaces(p: Program, at: number, address: Value): ParameterPlaces | undefined {
  const a = normalize(address);
  const base = a.k === "ptr" ? a.base : a;
  const off = a.k === "ptr" ? a.off : 0;
  if (base.k === "load") {
    const inner =
      depth(base) <= MAX_DEREFS ? parameterPlaces(p, at, offsetValue(base.base, base.off)) : undefined;
    if (!inner || base.size !== 8) return undefined;
    return { same: inner.same.map((n) => `*${n}+${off}`), oneOf: inner.oneOf.map((n) => `*${n}+${off}`) };
  }
  if (base.k !== "param") return undefined;
  const n = base.n;
  const fn = functionAt(p.functions, p.code.rva[at]!);
  if (!fn) return undefined;
  const out: ParameterPlaces = { same: [`f${fn.rva}:p${n}+${off}`], oneOf: [] };
  if (n !== 0) return out;
  const facts = vtableFacts(p);
  for (const i of facts.installs.get(fn.rva) ?? []) out.same.push(`v${i.vtable}+${off - i.offset}`);
  for (const v of facts.slots.get(fn.rva) ?? []) out.oneOf.push(`v${v}+${off}`);
  return out;
}

/** Loads nested in a value. */
function depth(v: Value): number {
  return v.k === "load" || v.k === "ptr" ? (v.k === "load" ? 1 : 0) + depth(v.base) : 0;
}

/** The address a handle value is read from, when it is a load of 8 bytes. */
export function handleAddress(handle: Value): Value | undefined {
  const v = normalize(handle);
  if (v.k !== "load" || v.size !== 8) return undefined;
  return offsetValue(v.base, v.off);
}
