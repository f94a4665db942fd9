/**
 * Does a site's enable test agree with the event it writes? The keyword and level its `enabled`
 * conditions test, against the descriptor written at the site — one definition for the tests, the
 * docs' figures and the site sentence.
 */
import type { Condition, SiteDescriptor } from "./chain.js";

export type Agreement =
  /** keyword and level tested = the descriptor's (level 0: no level test, as mc.exe emits none). */
  | "agrees"
  /** a tested keyword or level differs from the descriptor's. */
  | "disagrees"
  /** an enable test whose keyword or level is not known (registration handle, IsEnabled only). */
  | "partial"
  /** no enable test on the chain. */
  | "none";

export interface EnableNeed {
  keyword?: string;
  level?: number;
}

/** Keyword and level the chain's enable tests need (the first stated of each). */
export function enableNeed(conditions: Condition[]): EnableNeed {
  const out: EnableNeed = {};
  for (const c of conditions) {
    if (c.class !== "enabled") continue;
    if (out.keyword === undefined && c.keyword !== undefined) out.keyword = c.keyword;
    if (out.level === undefined && c.level !== undefined) out.level = c.level;
  }
  return out;
}

export function enableAgreement(conditions: Condition[], d: SiteDescriptor): Agreement {
  const enabled = conditions.filter((c) => c.class === "enabled");
  if (enabled.length === 0) return "none";
  let keyword = false;
  let level = d.level === 0;
  for (const c of enabled) {
    if (c.keyword !== undefined && d.keyword !== undefined) {
      if (BigInt(c.keyword) !== BigInt(d.keyword)) return "disagrees";
      keyword = true;
    }
    if (c.level !== undefined && d.level !== undefined) {
      if (c.level !== d.level) return "disagrees";
      level = true;
    }
  }
  return keyword && level ? "agrees" : "partial";
}
