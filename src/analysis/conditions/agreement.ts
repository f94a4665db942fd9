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

/** One manifest write site (call + event) of a provider whose registration passes an mc.exe context. */
export interface McSite {
  rva: string;
  function: string;
  eventId?: number;
  keyword?: string;
  level?: number;
  /** The best agreement over the site's chains. */
  agreement: Agreement | "no descriptor";
  logged?: string;
}

const RANK: Record<string, number> = { agrees: 0, disagrees: 1, partial: 2, none: 3, "no descriptor": 4 };

/**
 * Manifest write sites of the mc.exe-generated providers of one analysed image (providers whose
 * registration passes an MCGEN_TRACE_CONTEXT), each with how its enable test agrees with its
 * descriptor — the figure docs/analysis.md reports and the real-data test checks.
 */
export function mcSites(
  rows: ReadonlyArray<{
    site: { rva: string; function: string };
    provider: { guid?: string };
    event: { kind: string; id?: number; keyword?: string; level?: number };
    conditions?: Condition[];
    logged?: string;
  }>,
  mcProviders: ReadonlySet<string>,
): McSite[] {
  const best = new Map<string, McSite>();
  for (const r of rows) {
    if (r.event.kind !== "manifest" || !r.provider.guid || !mcProviders.has(r.provider.guid)) continue;
    const d: SiteDescriptor = {};
    if (r.event.keyword !== undefined) d.keyword = r.event.keyword;
    if (r.event.level !== undefined) d.level = r.event.level;
    const agreement = d.keyword === undefined ? "no descriptor" : enableAgreement(r.conditions ?? [], d);
    const key = `${r.site.rva}|${r.event.id}|${r.event.keyword}`;
    const prev = best.get(key);
    if (prev && RANK[prev.agreement]! <= RANK[agreement]!) continue;
    const s: McSite = { rva: r.site.rva, function: r.site.function, agreement };
    if (r.event.id !== undefined) s.eventId = r.event.id;
    if (d.keyword !== undefined) s.keyword = d.keyword;
    if (d.level !== undefined) s.level = d.level;
    if (r.logged) s.logged = r.logged;
    best.set(key, s);
  }
  return [...best.values()];
}
