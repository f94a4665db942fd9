/**
 * Catalog diff: providers, events and fields added, removed or changed between two catalogs
 * (typically two Windows builds). Pure over CatalogEvent lists; `diffStores` reads two stores.
 *
 * Identity: a provider is (kind, GUID — or name when there is no GUID). Within it an event is its
 * identity without the version (`eventFamily`, catalog/identity.ts: the one definition the joins
 * use too); manifest and MOF events may exist in several versions.
 * A version present only in the new catalog is a "version added" (bump) and its fields are
 * compared with the highest older version; a version present in both is compared attribute by
 * attribute (fields, keywords, level, opcode, task, channel, name, message).
 */
import { eventFamily } from "./identity.js";
import type { CatalogEvent, Field } from "./model.js";
import { globToLike } from "./search.js";
import type { CatalogStore } from "./store.js";
import { flattenFields } from "./store.js";

export type DiffChange = "added" | "removed" | "changed";
export type DiffSubject = "provider" | "event" | "version" | "field" | "attribute";

export interface DiffEntry {
  change: DiffChange;
  subject: DiffSubject;
  kind: string;
  provider: string;
  guid: string;
  eventId?: number;
  version?: number;
  /** Event name (new side when both exist). */
  event?: string;
  /** Field path (struct members as `Outer.Inner`) or attribute name (keywords, level, ...). */
  item?: string;
  old?: string;
  new?: string;
  /** Human-readable one-liner. */
  detail: string;
}

type ProviderEvents = { kind: string; name: string; guid: string; events: CatalogEvent[] };

function providerKey(ev: CatalogEvent): string {
  return `${ev.kind}|${ev.provider.guid || ev.provider.name.toLowerCase()}`;
}

function groupByProvider(events: Iterable<CatalogEvent>): Map<string, ProviderEvents> {
  const out = new Map<string, ProviderEvents>();
  for (const ev of events) {
    const k = providerKey(ev);
    let p = out.get(k);
    if (!p) out.set(k, (p = { kind: ev.kind, name: ev.provider.name, guid: ev.provider.guid, events: [] }));
    p.events.push(ev);
  }
  return out;
}

/** event key → version → event (first one wins when a catalog holds the same event twice). */
function groupByEvent(events: CatalogEvent[]): Map<string, Map<number, CatalogEvent>> {
  const out = new Map<string, Map<number, CatalogEvent>>();
  for (const ev of events) {
    const k = eventFamily(ev);
    let versions = out.get(k);
    if (!versions) out.set(k, (versions = new Map()));
    if (!versions.has(ev.version)) versions.set(ev.version, ev);
  }
  return out;
}

function fieldType(f: Field): string {
  return f.outType ? `${f.inType}/${f.outType}` : f.inType;
}

/** Field-level differences (by path): added, removed, type changed. */
export function diffFields(
  oldFields: Field[],
  newFields: Field[],
): Array<{ change: DiffChange; path: string; old?: string; new?: string }> {
  const o = new Map(flattenFields(oldFields).map((f) => [f.path, fieldType(f.field)]));
  const n = new Map(flattenFields(newFields).map((f) => [f.path, fieldType(f.field)]));
  const out: Array<{ change: DiffChange; path: string; old?: string; new?: string }> = [];
  for (const [path, type] of n) {
    const was = o.get(path);
    if (was === undefined) out.push({ change: "added", path, new: type });
    else if (was !== type) out.push({ change: "changed", path, old: was, new: type });
  }
  for (const [path, type] of o) if (!n.has(path)) out.push({ change: "removed", path, old: type });
  return out;
}

const ATTRIBUTES: Array<[string, (e: CatalogEvent) => string]> = [
  ["name", (e) => e.name],
  ["keywords", (e) => [...e.keywords.names].sort().join(" ") || e.keywords.mask],
  ["keyword_mask", (e) => e.keywords.mask],
  ["level", (e) => e.level?.name ?? String(e.level?.value ?? "")],
  ["opcode", (e) => e.opcode?.name ?? String(e.opcode?.value ?? "")],
  ["task", (e) => e.task?.name ?? String(e.task?.value ?? "")],
  ["channel", (e) => e.channel?.name ?? String(e.channel?.value ?? "")],
  ["message", (e) => e.message ?? ""],
];

export function diffEvents(
  oldEvents: Iterable<CatalogEvent>,
  newEvents: Iterable<CatalogEvent>,
): DiffEntry[] {
  const oldP = groupByProvider(oldEvents);
  const newP = groupByProvider(newEvents);
  const out: DiffEntry[] = [];
  const base = (p: ProviderEvents) => ({ kind: p.kind, provider: p.name, guid: p.guid });
  for (const [k, np] of newP) {
    const op = oldP.get(k);
    if (!op) {
      out.push({
        change: "added",
        subject: "provider",
        ...base(np),
        detail: `provider added (${np.events.length} events)`,
      });
      continue;
    }
    if (op.name !== np.name)
      out.push({
        change: "changed",
        subject: "provider",
        ...base(np),
        item: "name",
        old: op.name,
        new: np.name,
        detail: `provider renamed ${op.name} → ${np.name}`,
      });
    out.push(...diffProviderEvents(op, np));
  }
  for (const [k, op] of oldP)
    if (!newP.has(k))
      out.push({
        change: "removed",
        subject: "provider",
        ...base(op),
        detail: `provider removed (${op.events.length} events)`,
      });
  return out;
}

function diffProviderEvents(op: ProviderEvents, np: ProviderEvents): DiffEntry[] {
  const out: DiffEntry[] = [];
  const oldE = groupByEvent(op.events);
  const newE = groupByEvent(np.events);
  const at = (ev: CatalogEvent) => ({
    kind: np.kind,
    provider: np.name,
    guid: np.guid,
    eventId: ev.id,
    version: ev.version,
    event: ev.name,
  });
  const label = (ev: CatalogEvent) => `event ${ev.id} v${ev.version} ${ev.name}`;
  for (const [k, nv] of newE) {
    const ov = oldE.get(k);
    if (!ov) {
      for (const ev of nv.values())
        out.push({ change: "added", subject: "event", ...at(ev), detail: `${label(ev)} added` });
      continue;
    }
    const oldMax = Math.max(...ov.keys());
    for (const [version, ev] of [...nv].sort((a, b) => a[0] - b[0])) {
      const was = ov.get(version);
      if (!was) {
        const prev = ov.get(Math.max(...[...ov.keys()].filter((v) => v < version), -1)) ?? ov.get(oldMax)!;
        const fields = diffFields(prev.fields, ev.fields);
        const summary = fields.map((f) => `${sign(f.change)}${f.path}`).join(", ");
        out.push({
          change: "added",
          subject: "version",
          ...at(ev),
          old: String(prev.version),
          new: String(version),
          detail: `${label(ev)} new version (was v${prev.version})${summary ? `: ${summary}` : ""}`,
        });
        for (const f of fields) out.push(fieldEntry(at(ev), f, `vs v${prev.version}`));
        continue;
      }
      for (const f of diffFields(was.fields, ev.fields)) out.push(fieldEntry(at(ev), f, ""));
      for (const [item, get] of ATTRIBUTES) {
        const a = get(was);
        const b = get(ev);
        if (a !== b)
          out.push({
            change: "changed",
            subject: "attribute",
            ...at(ev),
            item,
            old: a,
            new: b,
            detail: `${label(ev)} ${item}: ${a || "(none)"} → ${b || "(none)"}`,
          });
      }
    }
    for (const [version, ev] of ov)
      if (!nv.has(version))
        out.push({
          change: "removed",
          subject: "version",
          ...at(ev),
          detail: `${label(ev)} version removed`,
        });
  }
  for (const [k, ov] of oldE)
    if (!newE.has(k))
      for (const ev of ov.values())
        out.push({ change: "removed", subject: "event", ...at(ev), detail: `${label(ev)} removed` });
  return out;
}

function sign(c: DiffChange): string {
  return c === "added" ? "+" : c === "removed" ? "-" : "~";
}

function fieldEntry(
  at: Omit<DiffEntry, "change" | "subject" | "detail">,
  f: { change: DiffChange; path: string; old?: string; new?: string },
  suffix: string,
): DiffEntry {
  const types = f.change === "changed" ? `${f.old} → ${f.new}` : (f.new ?? f.old);
  return {
    change: f.change,
    subject: "field",
    ...at,
    item: f.path,
    ...(f.old !== undefined ? { old: f.old } : {}),
    ...(f.new !== undefined ? { new: f.new } : {}),
    detail: `event ${at.eventId} v${at.version} ${at.event}: field ${f.path} ${f.change} (${types})${suffix ? ` ${suffix}` : ""}`,
  };
}

export interface DiffSide {
  /** Only events of this Windows build (provenance.build), e.g. to compare two builds in one catalog. */
  build?: string;
  /** Only providers whose name matches this glob (case-insensitive) or that have this GUID. */
  provider?: string;
}

function sideEvents(store: CatalogStore, side: DiffSide): Iterable<CatalogEvent> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (side.build !== undefined) where.push("coalesce(build, '') = ?") && params.push(side.build);
  if (side.provider) {
    where.push("(provider_name LIKE ? ESCAPE '\\' OR provider_guid = ?)");
    params.push(globToLike(side.provider), side.provider.replace(/[{}]/g, "").toLowerCase());
  }
  return store.events(where.length ? `WHERE ${where.join(" AND ")}` : "", params);
}

export function diffStores(
  oldStore: CatalogStore,
  newStore: CatalogStore,
  oldSide: DiffSide = {},
  newSide: DiffSide = {},
): DiffEntry[] {
  return diffEvents(sideEvents(oldStore, oldSide), sideEvents(newStore, newSide));
}

/** Readable report grouped by provider, with a count line at the end. */
export function formatDiffText(entries: DiffEntry[]): string {
  const lines: string[] = [];
  const byProvider = new Map<string, DiffEntry[]>();
  for (const e of entries) {
    const k = `${e.provider} {${e.guid}} (${e.kind})`;
    const list = byProvider.get(k);
    if (list) list.push(e);
    else byProvider.set(k, [e]);
  }
  for (const [title, list] of byProvider) {
    const top = list.find((e) => e.subject === "provider" && e.change !== "changed");
    if (top) {
      lines.push(`${sign(top.change)} ${title}: ${top.detail}`);
      continue;
    }
    lines.push(`~ ${title}`);
    for (const e of list) {
      if (e.subject === "field" && list.some((v) => v.subject === "version" && sameEvent(v, e))) continue;
      lines.push(`  ${sign(e.change)} ${e.detail}`);
    }
  }
  const count = (s: DiffSubject, c: DiffChange) =>
    entries.filter((e) => e.subject === s && e.change === c).length;
  lines.push(
    "",
    `providers: +${count("provider", "added")} -${count("provider", "removed")}; ` +
      `events: +${count("event", "added")} -${count("event", "removed")}; ` +
      `versions: +${count("version", "added")} -${count("version", "removed")}; ` +
      `fields: +${count("field", "added")} -${count("field", "removed")} ~${count("field", "changed")}; ` +
      `attributes changed: ${count("attribute", "changed")}`,
  );
  return lines.join("\n");
}

function sameEvent(a: DiffEntry, b: DiffEntry): boolean {
  return a.eventId === b.eventId && a.version === b.version && a.event === b.event;
}
