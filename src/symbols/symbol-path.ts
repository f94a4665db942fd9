/**
 * `_NT_SYMBOL_PATH` syntax, as DbgHelp/SymSrv read it:
 *
 *   entry[;entry...]
 *   entry = srv*[downstream*]...*server   symbol-store chain: stores searched in order, a file found
 *                                         in a later store is copied into every earlier local one
 *         | symsrv*symsrv.dll*store*...   the long spelling of srv*
 *         | cache*[dir]                   later entries' finds are cached in dir
 *         | dir                           a plain directory (flat, or a symbol store)
 *
 * A `*` separates stores inside one entry; it never occurs in Windows paths, and Windows
 * drive letters (`C:\x`) contain no `*`, so splitting on it is unambiguous. An empty store in a
 * srv chain (`srv**https://...`) means "the default downstream store".
 */

/** One store of a srv* chain: a local directory / UNC share, or an HTTP(S) server. */
export interface SymbolStore {
  kind: "local" | "http";
  /** Directory path or URL exactly as written (URL without a trailing slash). */
  location: string;
}

export type SymbolPathEntry =
  /** `srv*a*b*c`: search a, then b, then c; copy finds into the earlier local stores. */
  | { kind: "srv"; stores: SymbolStore[]; usesDefaultCache: boolean }
  /** `cache*dir`: files found by later entries are copied here; dir undefined = default. */
  | { kind: "cache"; dir: string | undefined }
  /** A plain directory searched flat (name.pdb) and as a symbol store. */
  | { kind: "dir"; dir: string };

export const MICROSOFT_SYMBOL_SERVER = "https://msdl.microsoft.com/download/symbols";

function isHttp(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

function store(text: string): SymbolStore {
  const t = text.trim();
  return isHttp(t) ? { kind: "http", location: t.replace(/\/+$/, "") } : { kind: "local", location: t };
}

/**
 * Splits a symbol path into entries. Empty entries (`;;`) are ignored. Unknown `x*y` prefixes are
 * kept as directories only if they contain no `*` — otherwise they are reported as errors, because
 * silently treating `svr*...` (a typo) as a directory would hide the problem.
 */
export function parseSymbolPath(text: string): SymbolPathEntry[] {
  const entries: SymbolPathEntry[] = [];
  for (const raw of text.split(";")) {
    const part = raw.trim();
    if (part === "") continue;
    const pieces = part.split("*");
    const head = pieces[0]!.toLowerCase();
    if (pieces.length === 1) {
      entries.push({ kind: "dir", dir: part });
      continue;
    }
    if (head === "srv" || head === "symsrv") {
      // symsrv*<dll>*store*...: the dll name is irrelevant here.
      const rest = head === "symsrv" ? pieces.slice(2) : pieces.slice(1);
      const stores: SymbolStore[] = [];
      let usesDefaultCache = false;
      for (const p of rest) {
        if (p.trim() === "") usesDefaultCache = true;
        else stores.push(store(p));
      }
      if (stores.length === 0) throw new SymbolPathError(`"${part}" names no symbol store`);
      // `srv*https://server` alone: SymSrv caches into the default downstream store.
      if (stores[0]!.kind === "http") usesDefaultCache = true;
      entries.push({ kind: "srv", stores, usesDefaultCache });
      continue;
    }
    if (head === "cache") {
      const dir = pieces.slice(1).join("*").trim();
      entries.push({ kind: "cache", dir: dir === "" ? undefined : dir });
      continue;
    }
    throw new SymbolPathError(
      `unknown symbol path element "${part}" (expected srv*, symsrv*, cache* or a directory)`,
    );
  }
  return entries;
}

export class SymbolPathError extends Error {
  constructor(message: string) {
    super(`symbol path: ${message}`);
    this.name = "SymbolPathError";
  }
}

/** The symbol path used when the user gives none: `_NT_ALT_SYMBOL_PATH` first, then `_NT_SYMBOL_PATH`. */
export function symbolPathFromEnv(env: Record<string, string | undefined>): string | undefined {
  const parts = [env._NT_ALT_SYMBOL_PATH, env._NT_SYMBOL_PATH].filter(
    (p): p is string => !!p && p.trim() !== "",
  );
  return parts.length ? parts.join(";") : undefined;
}
