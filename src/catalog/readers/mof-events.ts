import {
  type MofClass,
  type MofDocument,
  type MofProperty,
  qList,
  qNumber,
  qString,
} from "../../formats/mof/index.js";
import { normalizeGuid } from "../../util/bytes.js";
import type { CatalogEvent, CatalogProvider, Field, Provenance, SourceResult } from "../model.js";

/**
 * Walks the classic-ETW class tree of a MOF document:
 *   EventTrace (root) → provider class (Guid; e.g. MSNT_SystemTrace "Windows Kernel Trace")
 *     → event class (Guid, EventVersion, DisplayName; e.g. Process_V2)
 *       → event-type class (EventType{..}, EventTypeName{..}, properties with WmiDataId)
 * and emits one `mof` CatalogEvent per (event class, event type).
 */

const ROOT = "eventtrace";

/** Integer MOF types → manifest inTypes. */
const INTEGER_TYPES: Record<string, string> = {
  sint8: "win:Int8",
  uint8: "win:UInt8",
  sint16: "win:Int16",
  uint16: "win:UInt16",
  sint32: "win:Int32",
  uint32: "win:UInt32",
  sint64: "win:Int64",
  uint64: "win:UInt64",
};

const PRIMITIVES = new Set([
  "string",
  "char16",
  "char8",
  "boolean",
  "real32",
  "real64",
  "datetime",
  "object",
]);

const HEX_OUT: Record<string, string> = {
  "win:UInt8": "win:HexInt8",
  "win:UInt16": "win:HexInt16",
  "win:UInt32": "win:HexInt32",
  "win:UInt64": "win:HexInt64",
  "win:Int32": "win:HexInt32",
  "win:Int64": "win:HexInt64",
};

/** Maps one MOF property to a Field in manifest type spelling, keeping the MOF detail in `extra`. */
export function mofPropertyToField(p: MofProperty): Field {
  const q = p.qualifiers;
  const type = p.type.toLowerCase();
  const extension = qString(q, "extension");
  const ext = extension?.toLowerCase();
  const format = qString(q, "format")?.toLowerCase();
  const termination = qString(q, "StringTermination");
  const pointer = q.has("pointer");
  // Embedded classes (e.g. `LbrRecordEntry Entries[]`) are objects to TDH; keep the class name too.
  const primitive = type in INTEGER_TYPES || PRIMITIVES.has(type);
  const extra: Record<string, string | number | boolean> = { mofType: primitive ? p.type : "object" };
  if (!primitive) extra.embeddedClass = p.type;
  const wmiDataId = qNumber(q, "WmiDataId");
  if (wmiDataId !== undefined) extra.wmiDataId = wmiDataId;
  if (extension) extra.extension = extension;
  if (format) extra.format = format;
  if (pointer) extra.pointer = true;
  if (termination) extra.stringTermination = termination;
  const max = qNumber(q, "MAX");
  if (max !== undefined) extra.max = max;

  let inType: string;
  let outType: string | undefined;
  let length: number | string | undefined;
  if (pointer || ext === "sizet") inType = "win:Pointer";
  else if (INTEGER_TYPES[type]) {
    inType = INTEGER_TYPES[type];
    if (ext === "port") outType = "win:Port";
    else if (ext === "ipaddr" || ext === "ipaddrv4") outType = "win:IPv4";
    else if (format === "x") outType = HEX_OUT[inType];
  } else if (type === "string") {
    const wide = format === "w" || ext === "unicodestring";
    const t = (termination ?? "NullTerminated").toLowerCase();
    if (t === "counted" || t === "reversecounted")
      inType = wide ? "win:CountedUnicodeString" : "win:CountedAnsiString";
    else inType = wide ? "win:UnicodeString" : "win:AnsiString";
  } else if (type === "char16") {
    inType = p.arraySize ? "win:UnicodeString" : "win:UInt16";
    if (p.arraySize) length = p.arraySize;
  } else if (type === "char8") inType = p.arraySize ? "win:AnsiString" : "win:Int8";
  else if (type === "boolean") inType = "win:Boolean";
  else if (type === "real32") inType = "win:Float";
  else if (type === "real64") inType = "win:Double";
  else if (type === "datetime") inType = "win:FILETIME";
  else if (type === "object") {
    if (ext === "sid") inType = "win:SID";
    else if (ext === "guid") inType = "win:GUID";
    else if (ext === "ipaddr" || ext === "ipaddrv4") {
      inType = "win:UInt32";
      outType = "win:IPv4";
    } else if (ext === "port") {
      inType = "win:UInt16";
      outType = "win:Port";
    } else if (ext === "ipaddrv6") {
      inType = "win:Binary";
      outType = "win:IPv6";
      length = 16;
    } else if (ext === "wmitime") inType = "win:UInt64";
    else inType = "win:Binary";
  } else inType = "win:Binary"; // embedded class or unknown type: opaque bytes

  const field: Field = { name: p.name, inType };
  if (outType) field.outType = outType;
  if (length !== undefined) field.length = length;
  const sizeIs = qString(q, "WmiSizeIs");
  if (p.arraySize !== undefined && length === undefined) {
    const count = sizeIs ?? (p.arraySize || max);
    if (count !== undefined) field.count = count;
  }
  const valueMap = qList(q, "ValueMap");
  const values = qList(q, "Values");
  if (valueMap.length && valueMap.length === values.length) {
    field.map = valueMap.map((v, i) => `${v}=${values[i]}`).join("; ");
  } else if (values.length) {
    field.map = values.map((v, i) => `${i}=${v}`).join("; ");
  }
  field.extra = extra;
  return field;
}

interface Tree {
  byName: Map<string, MofClass>;
  parent(c: MofClass): MofClass | undefined;
  /** Self then ancestors. */
  chain(c: MofClass): MofClass[];
}

function buildTree(doc: MofDocument): Tree {
  const byName = new Map<string, MofClass>();
  for (const c of doc.classes) byName.set(c.name.toLowerCase(), c);
  const parent = (c: MofClass) => (c.superclass ? byName.get(c.superclass.toLowerCase()) : undefined);
  const chain = (c: MofClass) => {
    const out: MofClass[] = [];
    for (let k: MofClass | undefined = c; k && out.length < 64; k = parent(k)) out.push(k);
    return out;
  };
  return { byName, parent, chain };
}

export interface EventTraceOptions {
  source?: Provenance["source"];
}

/** Builds catalog providers and events from the EventTrace classes of a parsed MOF document. */
export function eventTraceEvents(doc: MofDocument, path: string, opts: EventTraceOptions = {}): SourceResult {
  const tree = buildTree(doc);
  const provenance: Provenance = { file: path, source: opts.source ?? "mof-text" };
  const result: SourceResult = { providers: [], events: [], notes: [] };
  const providers = new Map<MofClass, CatalogProvider>();

  // The provider is the ancestor whose superclass is EventTrace; EventTrace itself need not be
  // declared (a driver's binary MOF derives from it without repeating wmicore.mof).
  const providerOf = (c: MofClass): MofClass | undefined =>
    tree.chain(c).find((k) => k.superclass?.toLowerCase() === ROOT);

  const providerFor = (provCls: MofClass): CatalogProvider => {
    let provider = providers.get(provCls);
    if (!provider) {
      const guidText = qString(provCls.qualifiers, "Guid");
      provider = {
        kind: "mof",
        provider: {
          name: qString(provCls.qualifiers, "Description")?.trim() ?? provCls.name,
          guid: guidText ? normalizeGuid(guidText) : "",
          symbol: provCls.name,
        },
        provenance,
      };
      providers.set(provCls, provider);
      result.providers.push(provider);
    }
    return provider;
  };
  // Every direct child of EventTrace is a provider, even one that declares no events (yet).
  for (const cls of doc.classes) {
    if (cls.superclass?.toLowerCase() === ROOT) providerFor(cls);
  }

  for (const cls of doc.classes) {
    const types = qList(cls.qualifiers, "EventType");
    if (types.length === 0) continue;
    const provCls = providerOf(cls);
    if (!provCls) continue; // EventType outside the EventTrace tree (not an ETW class)
    const chain = tree.chain(cls);
    // The event class: nearest ancestor (or self) below the provider that carries a Guid.
    const provIdx = chain.indexOf(provCls);
    const below = chain.slice(0, provIdx);
    const eventCls = below.find((k) => qString(k.qualifiers, "Guid")) ?? provCls;
    const classGuidText = qString(eventCls.qualifiers, "Guid") ?? qString(provCls.qualifiers, "Guid");
    const classGuid = classGuidText ? normalizeGuid(classGuidText) : "";
    const version = below.map((k) => qNumber(k.qualifiers, "EventVersion")).find((v) => v !== undefined) ?? 0;
    const category = qString(eventCls.qualifiers, "DisplayName") ?? eventCls.name;
    const provider = providerFor(provCls);

    // Payload = properties with WmiDataId from the event class down to the type class, in id order.
    const props: MofProperty[] = [];
    for (const k of [...below].reverse()) {
      for (const p of k.properties) if (qNumber(p.qualifiers, "WmiDataId") !== undefined) props.push(p);
    }
    props.sort((a, b) => qNumber(a.qualifiers, "WmiDataId")! - qNumber(b.qualifiers, "WmiDataId")!);
    const fields = props.map(mofPropertyToField);

    const typeNames = qList(cls.qualifiers, "EventTypeName");
    const description = qString(cls.qualifiers, "Description")?.trim();
    types.forEach((t, i) => {
      const id = typeof t === "number" ? t : Number(t);
      if (!Number.isInteger(id)) {
        result.notes.push(`${cls.name}: EventType value ${JSON.stringify(t)} is not an integer`);
        return;
      }
      const typeName = typeNames[i] === undefined ? undefined : String(typeNames[i]);
      const ev: CatalogEvent = {
        kind: "mof",
        provider: provider.provider,
        id,
        version,
        opcode: typeName === undefined ? { value: id } : { value: id, name: typeName },
        keywords: { mask: "0x0", names: [] },
        name: `${category}_${typeName ?? `Type${id}`}${version > 0 ? `_V${version}` : ""}`,
        symbol: cls.name,
        fields: fields.map((f) => structuredClone(f)),
        provenance,
        mof: {
          className: cls.name,
          category,
          classGuid,
          ...(typeName !== undefined ? { eventTypeName: typeName } : {}),
        },
      };
      if (description !== undefined) ev.message = description;
      result.events.push(ev);
    });
  }
  return result;
}
