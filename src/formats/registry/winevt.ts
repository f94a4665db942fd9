import { normalizeGuid } from "../../util/bytes.js";
import { FormatError } from "../../util/errors.js";
import { type Hive, type RegValue, valueDword, valueText } from "./regf.js";

/**
 * What a SOFTWARE hive says about event providers: Windows registers every manifest provider under
 * Microsoft\Windows\CurrentVersion\WINEVT\Publishers\{GUID} (its name, resource and message files,
 * the channels it writes to) and every channel under WINEVT\Channels\<name>. Binaries often carry
 * only the GUID (Win7 WEVT_TEMPLATE resources, TraceLogging-free providers), so this is where the
 * names of many providers live.
 */

export interface PublisherChannel {
  /** Position under ChannelReferences (the key name). */
  index: number;
  name: string;
  /** Channel value as the manifest numbered it (the `Id` DWORD), if present. */
  id?: number;
  flags?: number;
}

export interface Publisher {
  /** Lower-case GUID without braces. */
  guid: string;
  /** The key's default value; absent when the publisher key has none. */
  name?: string;
  resourceFile?: string;
  messageFile?: string;
  parameterFile?: string;
  channels: PublisherChannel[];
}

export interface Channel {
  name: string;
  owningPublisher?: string;
  enabled?: boolean;
  /** 0 Admin, 1 Operational, 2 Analytic, 3 Debug. */
  type?: number;
}

export interface WinevtRegistration {
  publishers: Publisher[];
  channels: Channel[];
  /** "major.minor.build" from Microsoft\Windows NT\CurrentVersion, when the hive has it. */
  build?: string;
  /** Publisher keys that were not read (name not a GUID, or a corrupt sub-structure), with why. */
  notes: string[];
}

const WINEVT = "Microsoft\\Windows\\CurrentVersion\\WINEVT";
const NT_CURRENT_VERSION = "Microsoft\\Windows NT\\CurrentVersion";
const GUID_KEY = /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i;

/** Reads WINEVT\Publishers and WINEVT\Channels of a SOFTWARE hive (the hive's root is the SOFTWARE key). */
export function readWinevtRegistration(hive: Hive): WinevtRegistration {
  const winevt = hive.find(WINEVT);
  if (!winevt) throw new FormatError("regf", `no ${WINEVT} key: not a SOFTWARE hive`);
  const out: WinevtRegistration = { publishers: [], channels: [], notes: [] };
  const sub = (name: string) => hive.subkeys(winevt).find((k) => k.name.toLowerCase() === name);

  const publishers = sub("publishers");
  for (const key of publishers ? hive.subkeys(publishers) : []) {
    if (!GUID_KEY.test(key.name)) {
      out.notes.push(`Publishers\\${key.name}: key name is not a GUID; skipped`);
      continue;
    }
    try {
      const values = byName(hive.values(key));
      const pub: Publisher = { guid: normalizeGuid(key.name), channels: [] };
      const text = (n: string) => valueText(values.get(n));
      if (text("")) pub.name = text("");
      if (text("resourcefilename")) pub.resourceFile = text("resourcefilename");
      if (text("messagefilename")) pub.messageFile = text("messagefilename");
      if (text("parameterfilename")) pub.parameterFile = text("parameterfilename");
      const refs = hive.subkeys(key).find((k) => k.name.toLowerCase() === "channelreferences");
      for (const ref of refs ? hive.subkeys(refs) : []) {
        const index = Number(ref.name);
        const rv = byName(hive.values(ref));
        const name = valueText(rv.get(""));
        if (!Number.isInteger(index) || !name) continue;
        const ch: PublisherChannel = { index, name };
        const id = valueDword(rv.get("id"));
        const flags = valueDword(rv.get("flags"));
        if (id !== undefined) ch.id = id;
        if (flags !== undefined) ch.flags = flags;
        pub.channels.push(ch);
      }
      pub.channels.sort((a, b) => a.index - b.index);
      out.publishers.push(pub);
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      out.notes.push(`Publishers\\${key.name}: ${err.message}`);
    }
  }

  const channels = sub("channels");
  for (const key of channels ? hive.subkeys(channels) : []) {
    try {
      const values = byName(hive.values(key));
      const ch: Channel = { name: key.name };
      const owner = valueText(values.get("owningpublisher"));
      if (owner && GUID_KEY.test(owner)) ch.owningPublisher = normalizeGuid(owner);
      const enabled = valueDword(values.get("enabled"));
      if (enabled !== undefined) ch.enabled = enabled !== 0;
      const type = valueDword(values.get("type"));
      if (type !== undefined) ch.type = type;
      out.channels.push(ch);
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      out.notes.push(`Channels\\${key.name}: ${err.message}`);
    }
  }

  const build = windowsBuildOf(hive);
  if (build) out.build = build;
  return out;
}

/** Windows 10+ keeps CurrentMajor/MinorVersionNumber DWORDs; older releases a "6.1"-style CurrentVersion. */
function windowsBuildOf(hive: Hive): string | undefined {
  const key = hive.find(NT_CURRENT_VERSION);
  if (!key) return undefined;
  const values = byName(hive.values(key));
  const build = valueText(values.get("currentbuildnumber")) ?? valueText(values.get("currentbuild"));
  if (!build || !/^\d{4,5}$/.test(build)) return undefined;
  const major = valueDword(values.get("currentmajorversionnumber"));
  const minor = valueDword(values.get("currentminorversionnumber"));
  if (major !== undefined) return `${major}.${minor ?? 0}.${build}`;
  const legacy = valueText(values.get("currentversion"));
  return legacy && /^\d+\.\d+$/.test(legacy) ? `${legacy}.${build}` : undefined;
}

/** Values keyed by lower-case name (registry names are case-insensitive; "" is the default value). */
function byName(values: RegValue[]): Map<string, RegValue> {
  return new Map(values.map((v) => [v.name.toLowerCase(), v]));
}
