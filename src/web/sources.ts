/**
 * The catalogs the explorer serves, opened read-only — what the request thread needs (server.ts,
 * pool.ts) without the API's modules (api.ts loads the analysis for reach answers: ~1 s of imports
 * that only the API workers pay).
 */
import { CatalogStore } from "../catalog/store.js";

export interface AtlasSources {
  store: CatalogStore;
  /** Path shown in the page header. */
  dbPath: string;
  /** Older catalog to diff against (`serve --diff-against`). */
  diffStore?: CatalogStore;
  diffPath?: string;
}

/** How many recent answers are kept per catalog state (ApiCache.recent; the request thread's copy in pool.ts). */
export const RECENT_ANSWERS = 256;

/** Opens the catalog (and the one to diff against) read-only. */
export function openSources(dbPath: string, diffPath?: string): AtlasSources {
  const store = CatalogStore.open(dbPath, { readonly: true });
  let diffStore: CatalogStore | undefined;
  try {
    diffStore = diffPath ? CatalogStore.open(diffPath, { readonly: true }) : undefined;
  } catch (err) {
    store.close();
    throw err;
  }
  return { store, dbPath, diffStore, diffPath };
}

export function closeSources(src: AtlasSources): void {
  src.store.close();
  src.diffStore?.close();
}
