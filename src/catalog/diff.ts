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
import { appendAll } from "../util/arrays.js";
import { diffMaps } from "./diff-maps.js";
import { eventFamily, providerIdentity, traceLoggingProviderPart } from "./identity.js";
import type { CatalogEvent, Field } from "./model.js";
import { globToLike } from "./search.js";
import type { CatalogStore } from "./store.js";
import { flattenFields } from "./store.js";

export type DiffChange = "added" | "removed" | "changed";
export type DiffSubject = "provider" | "event" | "version" | "field" | "attribute" | "map" | "map value";

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
  /** Field path (struct members as `Outer.Inner`), attribute name (keywords, level, ...) or map name. */
  item?: string;
  /** The value of a map entry (subject "map value"). */
  mapValue?: number;
  old?: string;
  new?: string;
  /** Human-readable one-liner. */
  detail: string;
}

type ProviderEvents = { kind: string; name: string; guid: string; events: CatalogEvent[] };

/** Provider group of an event; TraceLogging by the metadata's provider (identity.ts), not the code's. */
function providerKey(ev: CatalogEvent): string {
  if (ev.kind === "tracelogging") return `tracelogging|${traceLoggingProviderPart(ev)}`;
  return providerIdentity(ev.kind, ev.provider);
}

/**
 * TraceLogging events of images with several providers: only the code says which provider writes
 * them, and that can differ between two analyses of byte-identical metadata, so they are compared
 * as one group.
 */
const CODE_TIED = "(TraceLogging provider known only from the code)";

function providerOf(ev: CatalogEvent): { name: string; guid: string } {
  if (ev.kind === "tracelogging" && traceLoggingProviderPart(ev) === "") return { name: CODE_TIED, guid: "" };
  return ev.provider;
}

function groupByProvider(events: Iterable<CatalogEvent>): Map<string, ProviderEvents> {
  const out = new Map<string, ProviderEvents>();
  for (const ev of events) {
    const k = providerKey(ev);
    let p = out.get(k);
    if (!p) {
      const { name, guid } = providerOf(ev);
      out.set(k, (p = { kind: ev.kind, name, guid, events: [] }));
    }
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

/** Same type: input types equal, and output types too where both sides write one. */
function sameType(a: Field, b: Field): boolean {
  return a.inType === b.inType && (!a.outType || !b.outType || a.outType === b.outType);
}

/** Field-level differences (by path): added, removed, type changed. */
export function diffFields(
  oldFields: Field[],
  newFields: Field[],
): Array<{ change: DiffChange; path: string; old?: string; new?: string }> {
  const o = new Map(flattenFields(oldFields).map((f) => [f.path, f.field]));
  const n = new Map(flattenFields(newFields).map((f) => [f.path, f.field]));
  // A struct that one side lists without members (manifests rebuilt through TDH print a struct as
  // one <data> whose inType is the struct's start index): its members are unknown there, not gone.
  const opaque = (a: Map<string, Field>, b: Map<string, Field>) => {
    for (const [path, f] of a)
      if (f.fields?.length) {
        const other = b.get(path);
        if (other && !other.fields?.length && other.inType !== "win:Struct") {
          for (const k of [...a.keys()]) if (k.startsWith(`${path}.`)) a.delete(k);
          a.delete(path);
          b.delete(path);
        }
      }
  };
  opaque(o, n);
  opaque(n, o);
  const out: Array<{ change: DiffChange; path: string; old?: string; new?: string }> = [];
  for (const [path, field] of n) {
    const was = o.get(path);
    if (was === undefined) out.push({ change: "added", path, new: fieldType(field) });
    else if (!sameType(was, field))
      out.push({ change: "changed", path, old: fieldType(was), new: fieldType(field) });
  }
  for (const [path, field] of o)
    if (!n.has(path)) out.push({ change: "removed", path, old: fieldType(field) });
  return out;
}

/** Keyword bits 48–63 are reserved: winmeta keywords (48–55) and the event's channels (56–63). */
const RESERVED_KEYWORD_BITS = 0xffff000000000000n;

function mask(e: CatalogEvent): bigint {
  try {
    return BigInt(e.keywords.mask);
  } catch {
    return 0n;
  }
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

/** A value with its spelling: the value is compared, the name only shown. */
function named(n: { value: number; name?: string } | undefined): { value: number; text: string } {
  const value = n?.value ?? 0; // an absent opcode/level/task/channel is 0 on the wire
  return { value, text: n?.name ? `${n.name} (${value})` : String(value) };
}

/**
 * What one side of a provider says at all: a manifest rebuilt from the registry has no channels
 * (and so no channel keyword bits) and no messages; "unknown" on one side is not a change.
 */
interface SideFacts {
  channels: boolean;
  /** mc writes the reserved bits into compiled descriptors; XML keywords never carry them. */
  reservedBits: boolean;
  messages: boolean;
}

function sideFacts(events: CatalogEvent[]): SideFacts {
  return {
    channels: events.some((e) => e.channel !== undefined),
    reservedBits: events.some((e) => (mask(e) & RESERVED_KEYWORD_BITS) !== 0n),
    messages: events.some((e) => !!e.message),
  };
}

/** Event names compared without case and `_` (`XStart` from task + opcode = symbol `X_Start`). */
const nameMeaning = (n: string): string => n.replace(/_/g, "").toLowerCase();

/**
 * Attributes compared by meaning: numbers, not their spelling (`win:Info` = `win:Informational` =
 * absent opcode 0); the provider's keyword bits apart from the reserved bits; keyword names only
 * where both sides name them (winmeta names left out: they are reserved bits).
 */
function attributeChanges(
  was: CatalogEvent,
  ev: CatalogEvent,
  oldSide: SideFacts,
  newSide: SideFacts,
): Array<{ item: string; old: string; new: string }> {
  const out: Array<{ item: string; old: string; new: string }> = [];
  const both = (k: keyof SideFacts) => oldSide[k] && newSide[k];
  if (nameMeaning(was.name) !== nameMeaning(ev.name)) out.push({ item: "name", old: was.name, new: ev.name });
  const ownNames = (e: CatalogEvent) =>
    e.keywords.names
      .filter((n) => !n.startsWith("win:"))
      .sort()
      .join(" ");
  if (ownNames(was) && ownNames(ev) && ownNames(was) !== ownNames(ev))
    out.push({ item: "keywords", old: ownNames(was), new: ownNames(ev) });
  const low = (e: CatalogEvent) => mask(e) & ~RESERVED_KEYWORD_BITS;
  if (low(was) !== low(ev)) out.push({ item: "keyword_mask", old: hex(low(was)), new: hex(low(ev)) });
  if (both("reservedBits")) {
    const high = (e: CatalogEvent) => mask(e) & RESERVED_KEYWORD_BITS;
    if (high(was) !== high(ev))
      out.push({ item: "reserved_keyword_bits", old: hex(high(was)), new: hex(high(ev)) });
  }
  const items: Array<[string, (e: CatalogEvent) => { value: number; name?: string } | undefined]> = [
    ["level", (e) => e.level],
    ["opcode", (e) => e.opcode],
    ["task", (e) => e.task],
  ];
  if (both("channels")) items.push(["channel", (e) => e.channel]);
  for (const [item, get] of items) {
    const a = named(get(was));
    const b = named(get(ev));
    if (a.value !== b.value) out.push({ item, old: a.text, new: b.text });
  }
  if (both("messages") && (was.message ?? "") !== (ev.message ?? ""))
    out.push({ item: "message", old: was.message ?? "", new: ev.message ?? "" });
  return out;
}

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
    // A source without a provider name (Win7 WEVT_TEMPLATE) does not rename it.
    if (op.name && np.name && op.name !== np.name)
      out.push({
        change: "changed",
        subject: "provider",
        ...base(np),
        item: "name",
        old: op.name,
        new: np.name,
        detail: `provider renamed ${op.name} → ${np.name}`,
      });
    appendAll(out, diffProviderEvents(op, np));
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
  const oldFacts = sideFacts(op.events);
  const newFacts = sideFacts(np.events);
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
      for (const { item, old: a, new: b } of attributeChanges(was, ev, oldFacts, newFacts))
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

/** SQL filter of one side; the column names differ between the events and providers tables. */
function sideFilter(side: DiffSide, cols: { name: string; guid: string }): [string, unknown[]] {
  const where: string[] = [];
  const params: unknown[] = [];
  if (side.build !== undefined) where.push("coalesce(build, '') = ?") && params.push(side.build);
  if (side.provider) {
    where.push(`(${cols.name} LIKE ? ESCAPE '\\' OR ${cols.guid} = ?)`);
    params.push(globToLike(side.provider), side.provider.replace(/[{}]/g, "").toLowerCase());
  }
  return [where.length ? `WHERE ${where.join(" AND ")}` : "", params];
}

export function diffStores(
  oldStore: CatalogStore,
  newStore: CatalogStore,
  oldSide: DiffSide = {},
  newSide: DiffSide = {},
): DiffEntry[] {
  const events = (store: CatalogStore, side: DiffSide) =>
    store.events(...sideFilter(side, { name: "provider_name", guid: "provider_guid" }));
  const providers = (store: CatalogStore, side: DiffSide) =>
    store.providers(...sideFilter(side, { name: "name", guid: "guid" }));
  return [
    ...diffEvents(events(oldStore, oldSide), events(newStore, newSide)),
    ...diffMaps(providers(oldStore, oldSide), providers(newStore, newSide)),
  ];
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
      `attributes changed: ${count("attribute", "changed")}; ` +
      `maps: +${count("map", "added")} -${count("map", "removed")} ~${count("map", "changed")}; ` +
      `map values: +${count("map value", "added")} -${count("map value", "removed")} ~${count("map value", "changed")}`,
  );
  return lines.join("\n");
}

function sameEvent(a: DiffEntry, b: DiffEntry): boolean {
  return a.eventId === b.eventId && a.version === b.version && a.event === b.event;
}
