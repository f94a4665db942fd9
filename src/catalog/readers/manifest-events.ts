import {
  child,
  childrenNamed,
  descendants,
  parseXml,
  type WinmetaValue,
  winmetaChannel,
  winmetaKeyword,
  winmetaLevel,
  winmetaOpcode,
  winmetaTask,
  type XmlElement,
} from "../../formats/manifest/index.js";
import { appendAll } from "../../util/arrays.js";
import { normalizeGuid } from "../../util/bytes.js";
import { FormatError } from "../../util/errors.js";
import type { CatalogEvent, CatalogProvider, Field, Named, Provenance, SourceResult } from "../model.js";
import { deriveEventNames } from "../naming.js";

/** Root element of an instrumentation manifest (any namespace prefix). */
const MANIFEST_ROOTS = new Set(["instrumentationManifest", "assembly"]);

/** Windows build from names like `Win10-17134_...` or `Manifests-Win7-7600/...`. */
export function buildFromPath(path: string): string | undefined {
  const m = /Win(7|8|81|10|11)-(\d{4,5})/i.exec(path);
  if (!m) return undefined;
  const major = { "7": "6.1", "8": "6.2", "81": "6.3", "10": "10.0", "11": "10.0" }[m[1]!]!;
  return `${major}.${m[2]}`;
}

/** Resolves `$(string.X)` references from the chosen string table; anything else is returned as-is. */
class Strings {
  unresolved = 0;
  constructor(private readonly table: Map<string, string>) {}
  resolve(text: string | undefined): string | undefined {
    if (text === undefined) return undefined;
    const m = /^\$\(string\.(.+)\)$/.exec(text.trim());
    if (!m) return text;
    const v = this.table.get(m[1]!);
    if (v === undefined) this.unresolved++;
    return v ?? text;
  }
}

/** Picks en-US when several cultures are present, else the first `resources` element. */
function stringTable(root: XmlElement): Map<string, string> {
  const table = new Map<string, string>();
  const resources = childrenNamed(child(root, "localization"), "resources");
  const chosen =
    resources.find((r) => r.attrs.culture?.toLowerCase() === "en-us") ??
    resources.find((r) => r.attrs.culture?.toLowerCase().startsWith("en")) ??
    resources[0];
  for (const s of childrenNamed(chosen ? child(chosen, "stringTable") : undefined, "string")) {
    if (s.attrs.id !== undefined) table.set(s.attrs.id, s.attrs.value ?? "");
  }
  return table;
}

/** Parses a decimal or 0x-hex integer attribute. */
function parseNumber(text: string | undefined, what: string): number | undefined {
  if (text === undefined || text.trim() === "") return undefined;
  const t = text.trim();
  const n = /^0x[0-9a-f]+$/i.test(t) ? Number.parseInt(t, 16) : /^\d+$/.test(t) ? Number(t) : Number.NaN;
  if (!Number.isFinite(n)) throw new FormatError("manifest-xml", `${what}: not a number: "${text}"`);
  return n;
}

function parseMask(text: string | undefined, what: string): bigint {
  const t = (text ?? "").trim();
  if (!/^(0x[0-9a-f]{1,16}|\d+)$/i.test(t))
    throw new FormatError("manifest-xml", `${what}: bad mask "${text}"`);
  return BigInt(t);
}

/** Reads `count="3"` / `length="Size"`: a number when numeric, else the referenced field's name. */
function countOrRef(text: string | undefined): number | string | undefined {
  if (text === undefined || text === "") return undefined;
  return /^\d+$/.test(text.trim()) ? Number(text.trim()) : text;
}

function templateFields(el: XmlElement): Field[] {
  const out: Field[] = [];
  for (const c of el.children) {
    if (c.name !== "data" && c.name !== "struct") continue;
    const f: Field = {
      name: c.attrs.name ?? "",
      inType: c.name === "struct" ? "win:Struct" : (c.attrs.inType ?? ""),
    };
    if (c.attrs.outType) f.outType = c.attrs.outType;
    if (c.attrs.map) f.map = c.attrs.map;
    const count = countOrRef(c.attrs.count);
    if (count !== undefined) f.count = count;
    const length = countOrRef(c.attrs.length);
    if (length !== undefined) f.length = length;
    if (c.name === "struct") f.fields = templateFields(c);
    out.push(f);
  }
  return out;
}

interface ProviderTables {
  channels: Map<string, Named>;
  levels: Map<string, Named>;
  tasks: Map<string, Named & { opcodes: Map<string, Named> }>;
  opcodes: Map<string, Named>;
  keywords: Map<string, { mask: bigint; message?: string }>;
  templates: Map<string, Field[]>;
}

function named(value: number, name: string | undefined, message: string | undefined): Named {
  const n: Named = { value };
  if (name !== undefined) n.name = name;
  if (message !== undefined) n.message = message;
  return n;
}

function fromWinmeta(v: WinmetaValue): Named {
  return { value: v.value, name: v.name, message: v.message };
}

function readProvider(
  p: XmlElement,
  strings: Strings,
  provenance: Provenance,
  notes: string[],
): { provider: CatalogProvider; events: CatalogEvent[] } {
  const name = p.attrs.name ?? "";
  const where = `provider "${name}"`;
  if (!name) notes.push("provider without a name attribute");
  const guid = p.attrs.guid ? normalizeGuid(p.attrs.guid) : "";
  if (!guid) notes.push(`${where}: no guid attribute`);
  const ref = { name, guid, ...(p.attrs.symbol ? { symbol: p.attrs.symbol } : {}) };

  const t: ProviderTables = {
    channels: new Map(),
    levels: new Map(),
    tasks: new Map(),
    opcodes: new Map(),
    keywords: new Map(),
    templates: new Map(),
  };
  const provider: CatalogProvider = { kind: "manifest", provider: ref, provenance };
  if (p.attrs.messageFileName) provider.messageFile = p.attrs.messageFileName;
  if (p.attrs.resourceFileName) provider.resourceFile = p.attrs.resourceFileName;

  // Channels: imported ones take their standard value; defined ones without `value` are numbered
  // from 16 in declaration order, the way the message compiler assigns them.
  let nextChannel = 16;
  for (const c of child(p, "channels")?.children ?? []) {
    if (c.name !== "channel" && c.name !== "importChannel") continue;
    const chName = c.attrs.name ?? c.attrs.chid ?? "";
    const std = winmetaChannel(chName);
    const value =
      parseNumber(c.attrs.value, `${where} channel ${chName}`) ??
      (c.name === "importChannel" && std ? std.value : nextChannel++);
    const n = named(value, chName, strings.resolve(c.attrs.message));
    if (c.attrs.chid) t.channels.set(c.attrs.chid, n);
    t.channels.set(chName, n);
  }
  for (const l of childrenNamed(child(p, "levels"), "level")) {
    const value = parseNumber(l.attrs.value, `${where} level ${l.attrs.name}`) ?? 0;
    t.levels.set(l.attrs.name ?? "", named(value, l.attrs.name, strings.resolve(l.attrs.message)));
  }
  const opcodeOf = (o: XmlElement, scope: string): Named =>
    named(
      parseNumber(o.attrs.value, `${where} ${scope}opcode ${o.attrs.name}`) ?? 0,
      o.attrs.name,
      strings.resolve(o.attrs.message),
    );
  for (const o of childrenNamed(child(p, "opcodes"), "opcode"))
    t.opcodes.set(o.attrs.name ?? "", opcodeOf(o, ""));
  for (const tk of childrenNamed(child(p, "tasks"), "task")) {
    const value = parseNumber(tk.attrs.value, `${where} task ${tk.attrs.name}`) ?? 0;
    const scoped = new Map<string, Named>();
    for (const o of childrenNamed(child(tk, "opcodes"), "opcode"))
      scoped.set(o.attrs.name ?? "", opcodeOf(o, `task ${tk.attrs.name} `));
    t.tasks.set(tk.attrs.name ?? "", {
      ...named(value, tk.attrs.name, strings.resolve(tk.attrs.message)),
      opcodes: scoped,
    });
  }
  for (const k of childrenNamed(child(p, "keywords"), "keyword")) {
    const mask = parseMask(k.attrs.mask, `${where} keyword ${k.attrs.name}`);
    const message = strings.resolve(k.attrs.message);
    t.keywords.set(k.attrs.name ?? "", message === undefined ? { mask } : { mask, message });
  }
  const maps: NonNullable<CatalogProvider["maps"]> = [];
  for (const m of child(p, "maps")?.children ?? []) {
    if (m.name !== "valueMap" && m.name !== "bitMap") continue;
    const entries = childrenNamed(m, "map").map((e) =>
      named(
        parseNumber(e.attrs.value, `${where} map ${m.attrs.name}`) ?? 0,
        undefined,
        strings.resolve(e.attrs.message),
      ),
    );
    maps.push({ name: m.attrs.name ?? "", kind: m.name === "bitMap" ? "bitmap" : "value", entries });
  }
  for (const tpl of childrenNamed(child(p, "templates"), "template")) {
    t.templates.set(tpl.attrs.tid ?? "", templateFields(tpl));
  }

  provider.channels = uniqueNamed(t.channels);
  provider.levels = [...t.levels.values()];
  provider.tasks = [...t.tasks.values()].map(({ opcodes: _o, ...n }) => n);
  provider.opcodes = [
    ...t.opcodes.values(),
    ...[...t.tasks.values()].flatMap((tk) => [...tk.opcodes.values()]),
  ];
  provider.keywords = [...t.keywords.entries()].map(([name, k]) => ({
    value: 0,
    name,
    mask: "0x" + k.mask.toString(16),
    ...(k.message !== undefined ? { message: k.message } : {}),
  }));
  provider.maps = maps;

  const events: CatalogEvent[] = [];
  // References to undefined channels/levels/tasks/... are summarised: one note per name.
  const unknownRefs = new Map<string, number[]>();
  const unknown = (kind: string, refName: string, id: number) => {
    const key = `${kind} "${refName}"`;
    unknownRefs.set(key, [...(unknownRefs.get(key) ?? []), id]);
  };
  for (const e of childrenNamed(child(p, "events"), "event")) {
    events.push(readEvent(e, t, ref, strings, provenance, unknown, where));
  }
  // Symbols from the manifest are kept; the other events get names unique per provider.
  const unnamed = events.filter((e) => e.symbol === undefined);
  const names = deriveEventNames(unnamed);
  for (const [i, ev] of unnamed.entries()) ev.name = names[i]!;
  for (const e of events) if (e.symbol !== undefined) e.name = e.symbol;
  for (const [key, ids] of unknownRefs) {
    const shown = ids.slice(0, 5).join(", ") + (ids.length > 5 ? ", ..." : "");
    notes.push(`${where}: unknown ${key} in ${ids.length} event(s) (${shown})`);
  }
  return { provider, events };
}

function uniqueNamed(m: Map<string, Named>): Named[] {
  return [...new Set(m.values())];
}

function readEvent(
  e: XmlElement,
  t: ProviderTables,
  provider: CatalogEvent["provider"],
  strings: Strings,
  provenance: Provenance,
  unknown: (kind: string, name: string, id: number) => void,
  where: string,
): CatalogEvent {
  const id = parseNumber(e.attrs.value, `${where} event value`);
  if (id === undefined) throw new FormatError("manifest-xml", `${where}: <event> without a value attribute`);
  const version = parseNumber(e.attrs.version, `${where} event ${id} version`) ?? 0;
  const ev: CatalogEvent = {
    kind: "manifest",
    provider,
    id,
    version,
    keywords: { mask: "0x0", names: [] },
    name: "",
    fields: [],
    provenance,
  };
  if (e.attrs.channel) {
    const ch = t.channels.get(e.attrs.channel);
    const std = winmetaChannel(e.attrs.channel);
    if (ch) ev.channel = ch;
    else if (std) ev.channel = fromWinmeta(std);
    else {
      unknown("channel", e.attrs.channel, id);
      ev.channel = { value: 0, name: e.attrs.channel };
    }
  }
  if (e.attrs.level) {
    const lv =
      t.levels.get(e.attrs.level) ??
      (winmetaLevel(e.attrs.level) && fromWinmeta(winmetaLevel(e.attrs.level)!));
    if (lv) ev.level = lv;
    else {
      unknown("level", e.attrs.level, id);
      ev.level = { value: 0, name: e.attrs.level };
    }
  }
  const task = e.attrs.task ? t.tasks.get(e.attrs.task) : undefined;
  if (e.attrs.task) {
    const std = winmetaTask(e.attrs.task);
    if (task) ev.task = named(task.value, task.name, task.message);
    else if (std) ev.task = fromWinmeta(std);
    else {
      // TDH-rebuilt manifests reference unnamed tasks as "task_<value>" without defining them.
      const suffix = /^task_(\d+)$/.exec(e.attrs.task);
      if (!suffix) unknown("task", e.attrs.task, id);
      ev.task = { value: suffix ? Number(suffix[1]) : 0, name: e.attrs.task };
    }
  }
  if (e.attrs.opcode) {
    const name = e.attrs.opcode;
    const std = winmetaOpcode(name);
    const op =
      task?.opcodes.get(name) ??
      t.opcodes.get(name) ??
      (std && fromWinmeta(std)) ??
      // An opcode defined under another task (rebuilt manifests lose the event's task).
      [...t.tasks.values()].map((tk) => tk.opcodes.get(name)).find((o) => o !== undefined);
    if (op) ev.opcode = op;
    else {
      // TDH-rebuilt manifests name clashing opcodes "win:Start_8_1" (task 8, opcode 1).
      const suffix = /_(\d+)$/.exec(name);
      if (!suffix) unknown("opcode", name, id);
      ev.opcode = { value: suffix ? Number(suffix[1]) : 0, name };
    }
  }
  if (e.attrs.keywords) {
    let mask = 0n;
    for (const k of e.attrs.keywords.split(/\s+/).filter(Boolean)) {
      ev.keywords.names.push(k);
      const own = t.keywords.get(k);
      const std = own ? undefined : winmetaKeyword(k);
      if (own) mask |= own.mask;
      else if (std) mask |= BigInt(std.mask);
      else unknown("keyword", k, id);
    }
    ev.keywords.mask = "0x" + mask.toString(16);
  }
  if (e.attrs.template) {
    const fields = t.templates.get(e.attrs.template);
    if (fields) ev.fields = fields;
    else unknown("template", e.attrs.template, id);
  }
  if (e.attrs.symbol) ev.symbol = e.attrs.symbol;
  const message = strings.resolve(e.attrs.message);
  if (message !== undefined) ev.message = message;
  return ev;
}

/**
 * Parses an instrumentation manifest (XML text). Every `<provider>` under
 * `instrumentation/events` becomes a CatalogProvider, every `<event>` a CatalogEvent.
 * Throws FormatError for XML that is not a manifest or is not well-formed.
 */
export function parseManifest(xmlText: string, path: string): SourceResult {
  const { roots, notes } = parseXml(xmlText);
  const root = roots[0];
  if (!root || roots.length > 1) throw new FormatError("manifest-xml", "expected exactly one root element");
  if (!MANIFEST_ROOTS.has(root.name))
    throw new FormatError("manifest-xml", `root element <${root.name}> is not an instrumentation manifest`);
  // Windows component manifests (<assembly>) carry the same instrumentation/localization children.
  const instrumentation = child(root, "instrumentation");
  const strings = new Strings(stringTable(root));
  const provenance: Provenance = { file: path, source: "manifest-xml" };
  const build = buildFromPath(path);
  if (build) provenance.build = build;
  const result: SourceResult = { providers: [], events: [], notes };
  // Providers belong under instrumentation/events; some hand-merged manifests put one directly
  // under instrumentation, so take every provider element below it.
  const providers = instrumentation ? descendants(instrumentation, "provider") : [];
  for (const p of providers) {
    const { provider, events } = readProvider(p, strings, provenance, result.notes);
    result.providers.push(provider);
    appendAll(result.events, events);
  }
  if (root.name === "assembly" && result.providers.length === 0)
    throw new FormatError("manifest-xml", "<assembly> without instrumentation providers");
  if (strings.unresolved)
    result.notes.push(`${strings.unresolved} $(string.X) references not in the string table`);
  return result;
}
