/**
 * A site's guard conditions as one short sentence ("written only when ObReferenceObjectByHandle
 * fails; needs keyword 0x40 at level 4") — the text the table/md/tsv formats, `events --sites` and
 * the explorer's site view show.
 */
import type { Condition } from "./chain.js";

/** Plain-data view of a condition (rows read back from the catalog are JSON). */
export type ConditionLike = Pick<
  Condition,
  "class" | "test" | "callee" | "outcome" | "keyword" | "level" | "matches" | "feature"
> & {
  flag?: { rva: string; symbol?: string };
};

export function conditionSentence(conditions: readonly ConditionLike[] | undefined): string {
  if (!conditions) return "";
  const parts: string[] = [];
  const when: string[] = [];
  for (const c of conditions) {
    if (c.class === "status" && c.callee) {
      const callee = c.callee.replace(/^.*!/, "");
      when.push(
        c.outcome === "failure"
          ? `${callee} fails`
          : c.outcome === "success"
            ? `${callee} succeeds`
            : `${c.test}`,
      );
    } else if (c.class === "feature") {
      when.push(
        c.feature
          ? `feature ${c.feature} is on`
          : `flag ${c.flag?.symbol ?? c.flag?.rva ?? c.test} is set (${c.test})`,
      );
    }
  }
  if (when.length > 0) parts.push(`written only when ${[...new Set(when)].join(" and ")}`);
  let keyword: string | undefined;
  let level: number | undefined;
  let disagrees = false;
  let enabled = false;
  for (const c of conditions) {
    if (c.class !== "enabled") continue;
    enabled = true;
    keyword ??= c.keyword;
    level ??= c.level;
    if (c.matches === false) disagrees = true;
  }
  if (keyword !== undefined || level !== undefined) {
    const need = [
      keyword !== undefined ? `keyword ${keyword}` : "",
      level !== undefined ? `level ${level}` : "",
    ]
      .filter(Boolean)
      .join(" at ");
    parts.push(`needs ${need}${disagrees ? " (not the event's own keyword/level)" : ""}`);
  } else if (enabled) parts.push("needs the provider enabled");
  return parts.join("; ");
}

/** The sentence of a stored site (`CodeSite.conditions`): the logged reading when nothing else is known. */
export function siteSentence(c: { logged: string; conditions: Array<Record<string, unknown>> }): string {
  const text = conditionSentence(c.conditions as unknown as ConditionLike[]);
  return text || (c.logged === "both" ? "no guard found: written whenever reached" : `logged ${c.logged}`);
}
