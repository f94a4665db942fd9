import { Hive, looksLikeHive } from "../../formats/registry/regf.js";
import { readWinevtRegistration } from "../../formats/registry/winevt.js";
import type { CatalogProvider, SourceResult } from "../model.js";
import type { SourceReader } from "../sources.js";

/** Channel types as WINEVT\Channels numbers them. */
const CHANNEL_TYPES = ["Admin", "Operational", "Analytic", "Debug"];

/**
 * A SOFTWARE registry hive: one provider record per registered publisher (name, resource and
 * message files, channels), no events. Its names fill providers that binaries leave nameless
 * (`CatalogStore.fillProviderNames`, nameFrom "registry").
 */
export const registryReader: SourceReader = {
  id: "registry-hive",
  sniff: (bytes) => (looksLikeHive(bytes) ? "yes" : "no"),
  read(input): SourceResult {
    const reg = readWinevtRegistration(new Hive(input.bytes));
    const channelType = new Map(reg.channels.map((c) => [c.name.toLowerCase(), c.type]));
    const providers: CatalogProvider[] = reg.publishers.map((p) => {
      const out: CatalogProvider = {
        kind: "manifest",
        provider: { name: p.name ?? "", guid: p.guid },
        provenance: { file: input.path, source: "registry-hive", ...(reg.build ? { build: reg.build } : {}) },
      };
      if (p.resourceFile) out.resourceFile = p.resourceFile;
      if (p.messageFile) out.messageFile = p.messageFile;
      if (p.channels.length)
        out.channels = p.channels.map((c) => {
          const type = channelType.get(c.name.toLowerCase());
          return {
            value: c.id ?? c.index,
            name: c.name,
            ...(type !== undefined && CHANNEL_TYPES[type] ? { message: CHANNEL_TYPES[type] } : {}),
          };
        });
      return out;
    });
    const named = reg.publishers.filter((p) => p.name).length;
    const notes = [
      `${reg.publishers.length} publishers registered (${named} with a name), ${reg.channels.length} channels${reg.build ? `, Windows ${reg.build}` : ""}`,
      ...reg.notes,
    ];
    return { providers, events: [], notes };
  },
};
