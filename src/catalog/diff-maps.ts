/**
 * Value and bit maps in a catalog diff: maps added or removed, a map's kind changed, and map values
 * added, removed or given another text. Maps belong to the provider (manifest / WEVT), so this reads
 * provider records, not events.
 *
 * Only providers both sides describe, with a source that carries maps at all (`maps` present):
 * a provider that is new is reported once by the event diff; "the source has no maps" is not "the
 * provider lost its maps". A value's text (message, else name) is compared only when both sides
 * have one: a compiled manifest read without its .mui has values but no texts.
 */
import type { DiffEntry } from "./diff.js";
import { providerIdentity } from "./identity.js";
import type { CatalogProvider } from "./model.js";

type MapDef = NonNullable<CatalogProvider["maps"]>[number];

interface ProviderMaps {
  kind: string;
  name: string;
  guid: string;
  /** map name → kind and value → text ("" = no text). */
  maps: Map<string, { kind: MapDef["kind"]; values: Map<number, string> }>;
}

/** Maps per provider; a provider read from several files merges them (the first text wins). */
function mapsByProvider(providers: Iterable<CatalogProvider>): Map<string, ProviderMaps> {
  const out = new Map<string, ProviderMaps>();
  for (const p of providers) {
    if (!p.maps) continue;
    const key = providerIdentity(p.kind, p.provider);
    let pm = out.get(key);
    if (!pm)
      out.set(key, (pm = { kind: p.kind, name: p.provider.name, guid: p.provider.guid, maps: new Map() }));
    if (!pm.name && p.provider.name) pm.name = p.provider.name;
    for (const m of p.maps) {
      let def = pm.maps.get(m.name);
      if (!def) pm.maps.set(m.name, (def = { kind: m.kind, values: new Map() }));
      for (const e of m.entries) {
        const text = e.message ?? e.name ?? "";
        if (!def.values.get(e.value)) def.values.set(e.value, text);
      }
    }
  }
  return out;
}

const hexValue = (v: number): string => `0x${v.toString(16)}`;

export function diffMaps(
  oldProviders: Iterable<CatalogProvider>,
  newProviders: Iterable<CatalogProvider>,
): DiffEntry[] {
  const oldP = mapsByProvider(oldProviders);
  const out: DiffEntry[] = [];
  for (const [key, np] of mapsByProvider(newProviders)) {
    const op = oldP.get(key);
    if (!op) continue;
    const at = { kind: np.kind, provider: np.name || op.name, guid: np.guid };
    for (const [name, def] of np.maps) {
      const was = op.maps.get(name);
      const label = `${def.kind === "bitmap" ? "bit" : "value"} map ${name}`;
      if (!was) {
        out.push({
          change: "added",
          subject: "map",
          ...at,
          item: name,
          detail: `${label} added (${def.values.size} values)`,
        });
        continue;
      }
      if (was.kind !== def.kind)
        out.push({
          change: "changed",
          subject: "map",
          ...at,
          item: name,
          old: was.kind,
          new: def.kind,
          detail: `map ${name} kind: ${was.kind} → ${def.kind}`,
        });
      for (const [value, text] of def.values) {
        const entry = { subject: "map value" as const, ...at, item: name, mapValue: value };
        const before = was.values.get(value);
        if (before === undefined)
          out.push({
            change: "added",
            ...entry,
            new: text,
            detail: `${label} value ${hexValue(value)} added${text ? `: ${text}` : ""}`,
          });
        else if (before && text && before !== text)
          out.push({
            change: "changed",
            ...entry,
            old: before,
            new: text,
            detail: `${label} value ${hexValue(value)}: ${before} → ${text}`,
          });
      }
      for (const [value, text] of was.values)
        if (!def.values.has(value))
          out.push({
            change: "removed",
            subject: "map value",
            ...at,
            item: name,
            mapValue: value,
            old: text,
            detail: `${label} value ${hexValue(value)} removed${text ? ` (was ${text})` : ""}`,
          });
    }
    for (const [name, was] of op.maps)
      if (!np.maps.has(name))
        out.push({
          change: "removed",
          subject: "map",
          ...at,
          item: name,
          detail: `${was.kind === "bitmap" ? "bit" : "value"} map ${name} removed (${was.values.size} values)`,
        });
  }
  return out;
}
