import type { TmcControl, TmfArgument, TmfMessage } from "../../formats/wpp/index.js";
import type {
  CatalogEvent,
  CatalogProvider,
  Field,
  Named,
  Provenance,
  ProviderRef,
  SourceResult,
} from "../model.js";
import { maskToHex } from "../model.js";

/**
 * WPP item types → manifest-style types. WPP has no in/out split; where the manifest expresses the
 * item's meaning with an output type (NTSTATUS, HRESULT, IPv4, ...) the inType is the carrier
 * integer and outType the meaning. Unknown item types map to "wpp:<ItemType>" rather than a guess.
 */
const ITEM_TYPES: Record<string, { inType: string; outType?: string }> = {
  ItemChar: { inType: "win:Int8" },
  ItemUChar: { inType: "win:UInt8" },
  ItemCharHidden: { inType: "win:Int8" },
  ItemShort: { inType: "win:Int16" },
  ItemUShort: { inType: "win:UInt16" },
  ItemLong: { inType: "win:Int32" },
  ItemULong: { inType: "win:UInt32" },
  ItemLongX: { inType: "win:UInt32", outType: "win:HexInt32" },
  ItemULongX: { inType: "win:UInt32", outType: "win:HexInt32" },
  ItemLongLong: { inType: "win:Int64" },
  ItemULongLong: { inType: "win:UInt64" },
  ItemLongLongX: { inType: "win:UInt64", outType: "win:HexInt64" },
  ItemLongLongXX: { inType: "win:UInt64", outType: "win:HexInt64" },
  ItemLongLongO: { inType: "win:UInt64" },
  ItemULongLongX: { inType: "win:UInt64", outType: "win:HexInt64" },
  ItemDouble: { inType: "win:Double" },
  ItemFloat: { inType: "win:Float" },
  ItemPtr: { inType: "win:Pointer" },
  ItemString: { inType: "win:AnsiString" },
  ItemRString: { inType: "win:AnsiString" },
  ItemRString_Quote: { inType: "win:AnsiString" },
  ItemWString: { inType: "win:UnicodeString" },
  ItemRWString: { inType: "win:UnicodeString" },
  ItemPString: { inType: "win:CountedAnsiString" },
  ItemPWString: { inType: "win:CountedUnicodeString" },
  ItemGuid: { inType: "win:GUID" },
  ItemCLSID: { inType: "win:GUID" },
  ItemIID: { inType: "win:GUID" },
  ItemLIBID: { inType: "win:GUID" },
  ItemSid: { inType: "win:SID" },
  ItemHexDump: { inType: "win:Binary" },
  ItemIPAddr: { inType: "win:UInt32", outType: "win:IPv4" },
  ItemIPV6Addr: { inType: "win:Binary", outType: "win:IPv6" },
  ItemPort: { inType: "win:UInt16", outType: "win:Port" },
  ItemNTSTATUS: { inType: "win:UInt32", outType: "win:NTSTATUS" },
  ItemHRESULT: { inType: "win:Int32", outType: "win:HResult" },
  ItemWINERROR: { inType: "win:UInt32", outType: "win:Win32Error" },
  ItemNDIS_STATUS: { inType: "win:UInt32", outType: "win:HexInt32" },
  ItemNDIS_OID: { inType: "win:UInt32", outType: "win:HexInt32" },
  ItemTimestamp: { inType: "win:FILETIME" },
  ItemWaitTime: { inType: "win:Int64" },
  ItemTimeDelta: { inType: "win:Int64" },
  ItemChar4: { inType: "win:UInt32" },
  ItemListByte: { inType: "win:UInt8" },
  ItemListShort: { inType: "win:UInt16" },
  ItemListLong: { inType: "win:UInt32" },
  ItemSetByte: { inType: "win:UInt8" },
  ItemSetShort: { inType: "win:UInt16" },
  ItemSetLong: { inType: "win:UInt32" },
  ItemEnum: { inType: "win:UInt32" },
  ItemFlagsEnum: { inType: "win:UInt32" },
  ItemBool: { inType: "win:Boolean" },
};

export function itemTypeToField(itemType: string): { inType: string; outType?: string } {
  return ITEM_TYPES[itemType] ?? { inType: `wpp:${itemType}` };
}

/** ETW trace levels (evntrace.h TRACE_LEVEL_*), also accepted without the prefix. */
const LEVELS: Record<string, number> = {
  TRACE_LEVEL_NONE: 0,
  TRACE_LEVEL_CRITICAL: 1,
  TRACE_LEVEL_FATAL: 1,
  TRACE_LEVEL_ERROR: 2,
  TRACE_LEVEL_WARNING: 3,
  TRACE_LEVEL_INFORMATION: 4,
  TRACE_LEVEL_VERBOSE: 5,
};

function levelOf(text: string | undefined): Named | undefined {
  if (text === undefined) return undefined;
  if (/^\d+$/.test(text)) return { value: Number(text), name: text };
  const v = LEVELS[text] ?? LEVELS[`TRACE_LEVEL_${text}`];
  return v === undefined ? undefined : { value: v, name: text };
}

function fieldOf(a: TmfArgument): Field {
  const t = itemTypeToField(a.itemType);
  const f: Field = { name: a.name, inType: t.inType, extra: { itemType: a.itemType, argNo: a.argNo } };
  if (t.outType) f.outType = t.outType;
  if (a.itemArgs !== undefined) f.map = `${a.itemType}(${a.itemArgs})`;
  return f;
}

/**
 * Which control a message belongs to: the control that defines the message's FLAGS bit name;
 * failing that, the only control of the source (a binary's messages all go through its controls).
 */
function controlOf(
  m: TmfMessage,
  controls: readonly TmcControl[],
): { control: TmcControl; bit?: number } | undefined {
  if (m.flags) {
    for (const c of controls) {
      const bit = c.flagNames.indexOf(m.flags);
      if (bit >= 0) return { control: c, bit };
    }
  }
  return controls.length === 1 ? { control: controls[0]! } : undefined;
}

/**
 * Catalog rows for WPP messages: provider = control GUID/name when a TMC says which, else the
 * message GUID's component (GUID ""); id = message number; fields = typed arguments in argument
 * order; keywords = the flag's bit (bit i ⇒ 1 << i) when known.
 */
export function wppCatalog(
  messages: readonly TmfMessage[],
  controls: readonly TmcControl[],
  provenance: Provenance,
): SourceResult {
  const providers: CatalogProvider[] = controls.map((c) => ({
    kind: "wpp",
    provider: { name: c.name, guid: c.guid },
    provenance,
    keywords: c.flagNames.map((name, i) => ({ value: 2 ** i, name, mask: maskToHex(1n << BigInt(i)) })),
  }));
  const notes: string[] = [];
  const events = messages.map((m): CatalogEvent => {
    const owner = controlOf(m, controls);
    const provider: ProviderRef = owner
      ? { name: owner.control.name, guid: owner.control.guid }
      : { name: m.component, guid: "" };
    const bit = owner?.bit;
    const e: CatalogEvent = {
      kind: "wpp",
      provider,
      id: m.messageNumber,
      version: 0,
      keywords: {
        mask: bit === undefined ? "0x0" : maskToHex(1n << BigInt(bit)),
        names: bit === undefined || !m.flags ? [] : [m.flags],
      },
      name: m.name,
      symbol: m.name,
      message: m.format,
      fields: [...m.args].sort((a, b) => a.argNo - b.argNo).map(fieldOf),
      provenance,
      wpp: { messageGuid: m.messageGuid, component: m.component },
    };
    const level = levelOf(m.level);
    if (level) e.level = level;
    const w = e.wpp!;
    if (m.sourceFile) w.sourceFile = m.sourceFile;
    if (m.function) w.function = m.function;
    if (m.level) w.level = m.level;
    if (m.flags) w.flags = m.flags;
    return e;
  });
  const unowned = events.filter((e) => e.provider.guid === "").length;
  if (unowned && controls.length)
    notes.push(`wpp: ${unowned} message(s) matched no control GUID by flag name; provider = component`);
  return { providers, events, notes };
}
