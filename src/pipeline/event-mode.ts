/**
 * Where an event is written: kernel or user mode, and for user mode whether by a service/server
 * module or a DLL any process loads. From the modules of its code sites (the catalog's own
 * event ↔ site join), else from the image that carries the event's metadata (TraceLogging blobs
 * and WEVT_TEMPLATE resources sit in the binary that writes them).
 */
import { type EventIdentity, EventSiteJoin } from "../catalog/event-sites.js";
import type { EventRow } from "../catalog/search.js";
import type { CatalogStore } from "../catalog/store.js";
import { moduleInfos, type StoredModuleInfo } from "./link-store.js";

export interface EventMode {
  mode: "kernel" | "user" | "kernel+user";
  /** User-mode roles of the writing modules (service, in-process, process). */
  roles: string[];
  /** `sites`: from the modules of its code sites; `image`: from the image carrying its metadata. */
  from: "sites" | "image";
}

export class EventModes {
  private readonly join: EventSiteJoin;
  private readonly modules: Map<string, StoredModuleInfo>;

  constructor(store: CatalogStore) {
    this.join = new EventSiteJoin(store);
    this.modules = new Map(moduleInfos(store).map((m) => [m.file, m]));
  }

  of(ev: EventRow | EventIdentity): EventMode | undefined {
    const file = "rowid" in ev ? ev.file : ev.provenance.file;
    const own = this.modules.get(file);
    // The join keeps to sites of the event's own build.
    const writers = new Map<string, StoredModuleInfo>();
    for (const s of this.join.sites(ev)) {
      const m = this.modules.get(s.file);
      if (m) writers.set(m.file, m);
    }
    if (writers.size > 0) return summarize([...writers.values()], "sites");
    return own ? summarize([own], "image") : undefined;
  }
}

function summarize(ms: StoredModuleInfo[], from: EventMode["from"]): EventMode {
  const modes = new Set(ms.map((m) => m.mode));
  const roles = [...new Set(ms.flatMap((m) => (m.mode === "user" && m.role ? [m.role] : [])))].sort();
  return { mode: modes.size > 1 ? "kernel+user" : [...modes][0]!, roles, from };
}
