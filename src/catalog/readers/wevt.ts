import { inTypeName, isDefaultOutType, outTypeName } from "../../formats/intypes.js";
import { winmetaChannels, winmetaLevels, winmetaOpcodes } from "../../formats/manifest/winmeta.js";
import { type MessageEntry, messageMap, parseMessageTable } from "../../formats/messagetable/index.js";
import { findResources, messageTables, type PeImage, parsePe, resourceData } from "../../formats/pe/index.js";
import {
  NO_MESSAGE,
  parseCrim,
  type WevtChannel,
  type WevtKeyword,
  type WevtLevel,
  type WevtManifest,
  type WevtOpcode,
  type WevtProperty,
  type WevtTask,
} from "../../formats/wevt/index.js";
import { appendAll } from "../../util/arrays.js";
import { FormatError } from "../../util/errors.js";
import {
  type CatalogEvent,
  type CatalogProvider,
  emptyResult,
  type Field,
  maskToHex,
  type Named,
  type Provenance,
  type SourceResult,
} from "../model.js";
import { deriveEventNames } from "../naming.js";
import type { SourceInput } from "../sources.js";
import type { PeExtractor } from "./pe.js";

/** Message tables of a PE image (every RT_MESSAGETABLE leaf, each decoded with its code page). */
export function peMessages(pe: PeImage): MessageEntry[][] {
  return messageTables(pe).map((t) => parseMessageTable(t.data, t.leaf.codePage));
}

/** Entries referenced by CRIM offset; events may point into tables of any provider in the blob. */
class OffsetIndex {
  readonly channels = new Map<number, WevtChannel>();
  readonly levels = new Map<number, WevtLevel>();
  readonly tasks = new Map<number, WevtTask>();
  readonly opcodes = new Map<number, WevtOpcode>();
  readonly keywords = new Map<number, WevtKeyword>();
  constructor(m: WevtManifest) {
    for (const p of m.providers) {
      for (const x of p.channels) this.channels.set(x.offset, x);
      for (const x of p.levels) this.levels.set(x.offset, x);
      for (const x of p.tasks) this.tasks.set(x.offset, x);
      for (const x of p.opcodes) this.opcodes.set(x.offset, x);
      for (const x of p.keywords) this.keywords.set(x.offset, x);
    }
  }
}

/**
 * Turns a parsed CRIM blob into catalog records. `messages` resolves MessageIds (provider name,
 * event messages, level/task/opcode/keyword/map display text).
 */
export function wevtToCatalog(
  m: WevtManifest,
  messages: Map<number, string>,
  provenance: Provenance,
): SourceResult {
  const out = emptyResult();
  const index = new OffsetIndex(m);
  const msg = (id: number): string | undefined => (id === NO_MESSAGE ? undefined : messages.get(id));
  const named = (value: number, name: string | undefined, messageId: number): Named => {
    const n: Named = { value };
    if (name) n.name = name;
    const text = msg(messageId);
    if (text !== undefined) n.message = text;
    return n;
  };

  for (const p of m.providers) {
    const name = p.name ?? msg(p.messageId) ?? "";
    if (!name)
      out.notes.push(`wevt-template: provider ${p.guid} has no name in the file (no PRVA, no message)`);
    if (p.skipped.length)
      out.notes.push(`wevt-template: provider ${p.guid}: tables not decoded: ${p.skipped.join(", ")}`);
    const ref = { name, guid: p.guid };
    const prov: Provenance = { ...provenance, offset: (provenance.offset ?? 0) + p.offset };
    const provider: CatalogProvider = {
      kind: "manifest",
      provider: ref,
      provenance: prov,
      channels: p.channels.map((c) => named(c.value, c.name, c.messageId)),
      levels: p.levels.map((l) => named(l.value, l.name, l.messageId)),
      tasks: p.tasks.map((t) => named(t.value, t.name, t.messageId)),
      opcodes: p.opcodes.map((o) => named(o.value, o.name, o.messageId)),
      keywords: p.keywords.map((k) => ({ ...named(0, k.name, k.messageId), mask: maskToHex(k.mask) })),
      maps: p.maps.map((mp) => ({
        name: mp.name,
        kind: mp.kind,
        entries: mp.entries.map((e) => named(e.value, undefined, e.messageId)),
      })),
    };
    out.providers.push(provider);
    const templates = new Map(p.templates.map((t) => [t.offset, t]));
    const events: CatalogEvent[] = [];
    for (const e of p.events) {
      const ev: CatalogEvent = {
        kind: "manifest",
        provider: ref,
        id: e.id,
        version: e.version,
        keywords: { mask: maskToHex(e.keywords), names: [] },
        name: "",
        fields: [],
        provenance: { ...provenance, offset: (provenance.offset ?? 0) + e.offset },
      };
      const ch = index.channels.get(e.channelOffset);
      if (ch) ev.channel = named(ch.value, ch.name, ch.messageId);
      else if (e.channel !== 0) ev.channel = { value: e.channel, ...nameOf(winmetaChannels, e.channel) };
      const lv = index.levels.get(e.levelOffset);
      if (lv) ev.level = named(lv.value, lv.name, lv.messageId);
      else ev.level = { value: e.level, ...nameOf(winmetaLevels, e.level) };
      // Task/opcode only when the event references an entry (offset 0 = not declared), as in XML.
      const tk = index.tasks.get(e.taskOffset);
      if (tk) ev.task = named(tk.value, tk.name, tk.messageId);
      else if (e.task !== 0) ev.task = { value: e.task };
      const op = index.opcodes.get(e.opcodeOffset);
      if (op) ev.opcode = named(op.value, op.name, op.messageId);
      else if (e.opcode !== 0) ev.opcode = { value: e.opcode, ...nameOf(winmetaOpcodes, e.opcode) };
      for (const k of e.keywordOffsets) {
        const kw = index.keywords.get(k);
        if (kw) ev.keywords.names.push(kw.name);
        else
          out.notes.push(
            `wevt-template: event ${e.id}: keyword offset 0x${k.toString(16)} not in any KEYW table`,
          );
      }
      if (e.templateOffset !== 0) {
        const t = templates.get(e.templateOffset) ?? findTemplate(m, e.templateOffset);
        if (t) ev.fields = t.properties.map(toField);
        else
          out.notes.push(
            `wevt-template: event ${e.id}: template offset 0x${e.templateOffset.toString(16)} not found`,
          );
      }
      const text = msg(e.messageId);
      if (text !== undefined) ev.message = text;
      events.push(ev);
    }
    // Names are unique per provider: made once all its events are read.
    const names = deriveEventNames(events);
    for (const [i, ev] of events.entries()) ev.name = names[i]!;
    out.events.push(...events);
  }
  return out;
}

function nameOf(table: Array<{ value: number; name: string }>, value: number): { name?: string } {
  const hit = table.find((x) => x.value === value);
  return hit ? { name: hit.name } : {};
}

function findTemplate(m: WevtManifest, offset: number) {
  for (const p of m.providers) for (const t of p.templates) if (t.offset === offset) return t;
  return undefined;
}

function toField(p: WevtProperty): Field {
  const f: Field = { name: p.name, inType: p.members ? "win:Struct" : inTypeName(p.inType ?? 0) };
  // mc stores the default out-type explicitly; drop it so records match the manifest's spelling.
  const out = p.outType === undefined ? undefined : outTypeName(p.outType);
  if (out && !isDefaultOutType(p.inType ?? 0, out)) f.outType = out;
  if (p.map) f.map = p.map;
  if (p.count !== undefined) f.count = p.count;
  if (p.length !== undefined) f.length = p.length;
  if (p.members) f.fields = p.members.map(toField);
  return f;
}

/** Message tables from the `.mui` companion (if the caller has one), then from the image itself. */
function messagesFor(
  pe: PeImage,
  input: SourceInput,
  notes: string[],
): { messages: Map<number, string>; muiUsed: boolean } {
  const tables: MessageEntry[][] = [];
  const base = input.path.split(/[\\/]/).pop() ?? input.path;
  const mui = input.companion?.(`${base}.mui`) ?? input.companion?.(`en-US/${base}.mui`);
  let muiUsed = false;
  if (mui) {
    try {
      tables.push(...peMessages(parsePe(mui)));
      muiUsed = tables.length > 0;
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      notes.push(`wevt-template: ${base}.mui: ${err.message}`);
    }
  }
  try {
    tables.push(...peMessages(pe));
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
    notes.push(`wevt-template: message table: ${err.message}`);
  }
  return { messages: messageMap(tables), muiUsed };
}

/** Reads every WEVT_TEMPLATE resource of a PE into catalog records. */
export function readWevtFromPe(pe: PeImage, input: SourceInput): SourceResult {
  const out = emptyResult();
  const leaves = findResources(pe, "WEVT_TEMPLATE");
  if (leaves.length === 0) return out;
  const { messages, muiUsed } = messagesFor(pe, input, out.notes);
  for (const leaf of leaves) {
    // Record offsets are file offsets: the resource's file offset plus the offset inside CRIM.
    const provenance: Provenance = {
      file: input.path,
      source: "wevt-template",
      offset: pe.rvaToOffset(leaf.rva) ?? 0,
    };
    const r = wevtToCatalog(parseCrim(resourceData(pe, leaf)), messages, provenance);
    for (const p of r.providers) {
      p.resourceFile = input.path;
      p.messageFile = muiUsed ? `${input.path}.mui` : input.path;
    }
    appendAll(out.providers, r.providers);
    appendAll(out.events, r.events);
    appendAll(out.notes, r.notes);
  }
  return out;
}

export const wevtExtractor: PeExtractor = { id: "wevt-template", extract: readWevtFromPe };
