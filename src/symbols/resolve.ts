import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, extname, isAbsolute, join, relative, resolve as resolvePath } from "node:path";
import { type PdbFile, parsePdb } from "../formats/pdb/index.js";
import { type CodeViewInfo, pdbInfo } from "../formats/pe/debug.js";
import { parsePe } from "../formats/pe/image.js";
import { normalizeGuid } from "../util/bytes.js";
import { FormatError } from "../util/errors.js";
import { expandCompressedSymbolFile, looksLikeCab } from "./cab.js";
import {
  type PdbKey,
  parseFilePointer,
  pdbBaseName,
  type StoreFileKind,
  storeCandidates,
} from "./store-key.js";
import { parseSymbolPath, type SymbolPathEntry, type SymbolStore, symbolPathFromEnv } from "./symbol-path.js";

/**
 * Finds the PDB of an image (the only I/O part of src/symbols): an explicit path, the image's
 * directory, then every entry of a symbol path (`_NT_SYMBOL_PATH` syntax): plain directories,
 * local symbol stores and HTTP(S) symbol servers, following `file.ptr` redirects and expanding
 * `.pd_` cabinets. Every candidate is checked against the image's GUID and age (DBI age) before
 * it is accepted or cached; downloads are cached in symbol-store layout.
 */

export interface ResolveOptions {
  /** Explicit PDB (`--pdb`): the only candidate when given; a mismatch is an error. */
  pdb?: string;
  /** Symbol path; defaults to `_NT_ALT_SYMBOL_PATH;_NT_SYMBOL_PATH` from `env`. */
  symbolPath?: string;
  env?: Record<string, string | undefined>;
  /** Downstream store for `srv*<server>` and bare `cache*` (default ~/.cache/etw-atlas/symbols). */
  defaultCache?: string;
  /** Skip the image's own directory. */
  skipImageDir?: boolean;
  /** Per-request timeout for symbol servers (default 60 s). */
  timeoutMs?: number;
  /** Largest file accepted from a server or store (default 1 GiB). */
  maxBytes?: number;
  /** Receives one line per location tried (for --verbose). */
  log?: (line: string) => void;
}

export type ResolvedVia = "explicit" | "image-dir" | "directory" | "store" | "server";

export interface ResolvedPdb {
  /** Where the accepted PDB now is on disk (the cache copy for downloads). */
  path: string;
  bytes: Uint8Array;
  pdb: PdbFile;
  via: ResolvedVia;
  /** The location it came from (directory, store file or URL). */
  from: string;
  /** Every location looked at, with what was found there. */
  tried: string[];
}

/** What the image asks for; DBI age is what must equal `age`. */
export interface PdbRequest extends PdbKey {
  /** Directory of the image, searched first unless skipImageDir. */
  imageDir?: string;
  /** Image file extension without dot (dll, sys, exe): plain directories are also searched in `<dir>/<ext>/`. */
  imageExt?: string;
  /** Image file name without extension: `<stem>.pdb` beside the image is tried too. */
  imageStem?: string;
}

export class SymbolResolveError extends Error {
  constructor(
    message: string,
    readonly tried: string[],
  ) {
    super(tried.length ? `${message}\n  tried:\n    ${tried.join("\n    ")}` : message);
    this.name = "SymbolResolveError";
  }
}

export const DEFAULT_CACHE = join(homedir(), ".cache", "etw-atlas", "symbols");
const DEFAULT_MAX_BYTES = 1 << 30;
/** Bound on file.ptr → file.ptr chains. */
const MAX_REDIRECTS = 4;

/** The PDB request named by an image's CodeView (RSDS) record. */
export function pdbRequestForImage(imagePath: string, imageBytes: Uint8Array): PdbRequest {
  const cv: CodeViewInfo | undefined = pdbInfo(parsePe(imageBytes));
  if (!cv)
    throw new SymbolResolveError(`${imagePath}: image has no CodeView debug record (no PDB named)`, []);
  if (cv.format !== "RSDS" || cv.guid === undefined)
    throw new SymbolResolveError(
      `${imagePath}: image has an ${cv.format} debug record; only RSDS (GUID) PDBs are looked up`,
      [],
    );
  const ext = extname(imagePath).slice(1).toLowerCase();
  return {
    name: pdbBaseName(cv.path),
    guid: cv.guid,
    age: cv.age,
    imageDir: dirname(resolvePath(imagePath)),
    imageStem: basename(imagePath, extname(imagePath)),
    ...(ext ? { imageExt: ext } : {}),
  };
}

export async function findPdbForImage(imagePath: string, options: ResolveOptions = {}): Promise<ResolvedPdb> {
  const max = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const st = statSync(imagePath);
  if (!st.isFile()) throw new SymbolResolveError(`${imagePath}: not a regular file`, []);
  if (st.size > max)
    throw new SymbolResolveError(`${imagePath}: ${st.size} bytes, more than the ${max}-byte limit`, []);
  return findPdb(pdbRequestForImage(imagePath, new Uint8Array(readFileSync(imagePath))), options);
}

/** Why a PDB does not satisfy the request, or undefined when it does. */
export function mismatch(pdb: PdbFile, want: PdbKey): string | undefined {
  const guid = normalizeGuid(pdb.info.guid);
  if (guid !== normalizeGuid(want.guid)) return `GUID ${guid}, wanted ${normalizeGuid(want.guid)}`;
  if (pdb.dbi.age !== want.age) return `age ${pdb.dbi.age} (DBI), wanted ${want.age}`;
  return undefined;
}

export async function findPdb(req: PdbRequest, options: ResolveOptions = {}): Promise<ResolvedPdb> {
  const r = new Resolver(req, options);
  return r.run();
}

class Resolver {
  readonly tried: string[] = [];
  /** Servers that could not be reached: not asked again during this lookup (as SymSrv does). */
  private readonly unreachable = new Set<string>();
  private readonly maxBytes: number;
  private readonly name: string;

  constructor(
    readonly req: PdbRequest,
    readonly opt: ResolveOptions,
  ) {
    this.maxBytes = opt.maxBytes ?? DEFAULT_MAX_BYTES;
    this.name = pdbBaseName(req.name);
  }

  private note(line: string): void {
    this.tried.push(line);
    this.opt.log?.(line);
  }

  private describe(): string {
    return `${this.name} ${normalizeGuid(this.req.guid)} age ${this.req.age}`;
  }

  async run(): Promise<ResolvedPdb> {
    if (this.opt.pdb !== undefined) {
      const path = this.opt.pdb;
      const bytes = readLocal(path, this.maxBytes);
      if (!bytes) throw new SymbolResolveError(`--pdb ${path}: no such file`, []);
      const pdb = parsePdb(bytes);
      const why = mismatch(pdb, this.req);
      if (why) throw new SymbolResolveError(`--pdb ${path} does not match the image: ${why}`, []);
      return { path, bytes, pdb, via: "explicit", from: path, tried: [path] };
    }
    if (!this.opt.skipImageDir && this.req.imageDir) {
      // The name the linker recorded, then <image name>.pdb (images and PDBs are often renamed together).
      const names = [this.name];
      if (this.req.imageStem && `${this.req.imageStem}.pdb`.toLowerCase() !== this.name.toLowerCase())
        names.push(`${this.req.imageStem}.pdb`);
      for (const n of names) {
        const hit = this.tryLocalFile(join(this.req.imageDir, n));
        if (hit) return { ...hit, via: "image-dir", from: this.req.imageDir, tried: this.tried };
      }
    }
    const text = this.opt.symbolPath ?? symbolPathFromEnv(this.opt.env ?? process.env);
    const entries = text ? parseSymbolPath(text) : [];
    let cacheDirs: string[] = [];
    for (const entry of entries) {
      if (entry.kind === "cache") {
        cacheDirs = [...cacheDirs, entry.dir ?? this.defaultCache()];
        continue;
      }
      const hit = await this.tryEntry(entry, cacheDirs);
      if (hit) return { ...hit, tried: this.tried };
    }
    throw new SymbolResolveError(
      `no matching PDB found for ${this.describe()}${entries.length ? "" : " (no symbol path given: use --symbol-path or _NT_SYMBOL_PATH)"}`,
      this.tried,
    );
  }

  private defaultCache(): string {
    return this.opt.defaultCache ?? DEFAULT_CACHE;
  }

  /** Reads, parses and checks one local PDB; mismatches and corrupt files are noted, not fatal. */
  private tryLocalFile(path: string): { path: string; bytes: Uint8Array; pdb: PdbFile } | undefined {
    let bytes: Uint8Array | undefined;
    try {
      bytes = readLocal(path, this.maxBytes);
    } catch (err) {
      this.note(`${path}: ${(err as Error).message}`);
      return undefined;
    }
    if (!bytes) {
      this.note(`${path}: not found`);
      return undefined;
    }
    const checked = this.check(bytes, path);
    return checked ? { path, bytes, pdb: checked } : undefined;
  }

  private check(bytes: Uint8Array, where: string): PdbFile | undefined {
    try {
      const pdb = parsePdb(bytes);
      const why = mismatch(pdb, this.req);
      if (why) {
        this.note(`${where}: wrong PDB (${why})`);
        return undefined;
      }
      this.note(`${where}: match`);
      return pdb;
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      this.note(`${where}: not a readable PDB (${err.message})`);
      return undefined;
    }
  }

  private async tryEntry(
    entry: Exclude<SymbolPathEntry, { kind: "cache" }>,
    cacheDirs: string[],
  ): Promise<Omit<ResolvedPdb, "tried"> | undefined> {
    if (entry.kind === "dir") {
      const dir = entry.dir;
      const flat = [join(dir, this.name)];
      if (this.req.imageExt)
        flat.push(
          join(dir, this.req.imageExt, this.name),
          join(dir, "symbols", this.req.imageExt, this.name),
        );
      for (const p of flat) {
        const hit = this.tryLocalFile(p);
        if (hit) return this.finish(hit, "directory", dir, cacheDirs);
      }
      const hit = await this.tryStore({ kind: "local", location: dir });
      return hit ? this.finish(hit, "store", hit.from, cacheDirs) : undefined;
    }
    // srv*a*b*c: a find in a later store is copied into the earlier local stores (and caches).
    const stores: SymbolStore[] = entry.usesDefaultCache
      ? [{ kind: "local", location: this.defaultCache() }, ...entry.stores]
      : entry.stores;
    for (let i = 0; i < stores.length; i++) {
      const store = stores[i]!;
      const hit = await this.tryStore(store);
      if (!hit) continue;
      const downstream = stores
        .slice(0, i)
        .filter((s) => s.kind === "local")
        .map((s) => s.location);
      return this.finish(hit, store.kind === "http" ? "server" : "store", hit.from, [
        ...cacheDirs,
        ...downstream,
      ]);
    }
    return undefined;
  }

  /** Copies a find into each cache directory (store layout) and reports the first copy as its path. */
  private finish(
    hit: { path: string; bytes: Uint8Array; pdb: PdbFile },
    via: ResolvedVia,
    from: string,
    caches: string[],
  ): Omit<ResolvedPdb, "tried"> {
    let path = hit.path;
    for (const dir of caches) {
      const target = join(dir, ...storeCandidates(this.req)[0]!.path.split("/"));
      if (resolvePath(target) === resolvePath(hit.path)) continue;
      writeAtomically(target, hit.bytes);
      this.note(`${target}: cached`);
      if (path === hit.path && via === "server") path = target;
    }
    return { path, bytes: hit.bytes, pdb: hit.pdb, via, from };
  }

  /** Looks a key up in one store: `name`, then `name.pd_`, then `file.ptr`. */
  private async tryStore(
    store: SymbolStore,
  ): Promise<{ path: string; bytes: Uint8Array; pdb: PdbFile; from: string } | undefined> {
    const twoTier = store.kind === "local" && existsSync(join(store.location, "index2.txt"));
    for (const c of storeCandidates(this.req, twoTier)) {
      if (this.unreachable.has(store.location)) {
        this.note(`${store.location}: skipped (unreachable)`);
        return undefined;
      }
      const where =
        store.kind === "http"
          ? `${store.location}/${encodePath(c.path)}`
          : join(store.location, ...c.path.split("/"));
      const got = await this.fetchCandidate(store, where, c.kind, 0);
      if (got) return { ...got, from: where };
    }
    return undefined;
  }

  private async fetchCandidate(
    store: SymbolStore,
    where: string,
    kind: StoreFileKind,
    depth: number,
  ): Promise<{ path: string; bytes: Uint8Array; pdb: PdbFile } | undefined> {
    let raw: Uint8Array | undefined;
    try {
      raw = isUrl(where) ? await this.httpGet(where) : readLocal(where, this.maxBytes);
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      // fetch() reports network failures as "fetch failed" with the reason in `cause`.
      const network = e.message === "fetch failed" || e.name === "TimeoutError";
      const why = e.cause?.code ?? e.cause?.message ?? e.message;
      if (network) {
        this.note(`${where}: cannot reach server (${why})`);
        if (store.kind === "http") this.unreachable.add(store.location);
      } else this.note(`${where}: ${why}`);
      return undefined;
    }
    if (!raw) {
      this.note(`${where}: not found`);
      return undefined;
    }
    let bytes = raw;
    if (kind === "pointer") {
      if (depth >= MAX_REDIRECTS) {
        this.note(`${where}: too many file.ptr redirects`);
        return undefined;
      }
      let ptr: ReturnType<typeof parseFilePointer>;
      try {
        ptr = parseFilePointer(new TextDecoder().decode(raw));
      } catch (err) {
        this.note(`${where}: ${(err as Error).message}`);
        return undefined;
      }
      if ("message" in ptr) {
        this.note(`${where}: file.ptr says "${ptr.message}"`);
        return undefined;
      }
      const resolved = resolvePointer(ptr.path, where, store);
      if ("refused" in resolved) {
        this.note(`${where}: file.ptr names ${ptr.path}: refused (${resolved.refused})`);
        return undefined;
      }
      const target = resolved.target;
      this.note(`${where}: file.ptr → ${target}`);
      const targetKind: StoreFileKind = /_$/.test(target) ? "compressed" : "plain";
      return this.fetchCandidate(store, target, targetKind, depth + 1);
    }
    if (kind === "compressed" || looksLikeCab(bytes)) {
      try {
        bytes = expandCompressedSymbolFile(bytes, this.name, this.maxBytes);
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
        this.note(`${where}: bad cabinet (${err.message})`);
        return undefined;
      }
    }
    const pdb = this.check(bytes, where);
    if (!pdb) {
      if (isUrl(where))
        this.note(`${where}: the server's file does not match ${this.describe()}; not cached`);
      return undefined;
    }
    return { path: where, bytes, pdb };
  }

  /** GET a URL: bytes, undefined for 404/410, an Error for anything else. */
  private async httpGet(url: string): Promise<Uint8Array | undefined> {
    const res = await fetch(url, {
      redirect: "follow",
      signal: AbortSignal.timeout(this.opt.timeoutMs ?? 60_000),
      headers: { "user-agent": "etw-atlas-symbols" },
    });
    if (res.status === 404 || res.status === 410) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status} ${res.statusText}`);
    }
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > this.maxBytes) {
      await res.body?.cancel();
      throw new Error(`server offers ${declared} bytes, more than the ${this.maxBytes}-byte limit`);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        total += chunk.length;
        if (total > this.maxBytes) throw new Error(`download exceeds the ${this.maxBytes}-byte limit`);
        chunks.push(chunk);
      }
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

function encodePath(p: string): string {
  return p.split("/").map(encodeURIComponent).join("/");
}

/**
 * A file.ptr target, resolved against the file.ptr's location, or why it is refused. A store's
 * content may only point within that store: on a server, URLs of the same origin (a relative path,
 * or an absolute URL to the same scheme, host and port); in a local store, paths inside the
 * store's directory. Local, UNC and other-host targets are refused, so a server cannot make the
 * client open local files (or SMB shares on Windows) and report or cache them as its downloads.
 */
export function resolvePointer(
  target: string,
  ptrLocation: string,
  store: SymbolStore,
): { target: string } | { refused: string } {
  const windowsPath = /^[A-Za-z]:[\\/]|^[\\/]{2}/.test(target);
  if (store.kind === "http") {
    if (windowsPath || (!isUrl(target) && isAbsolute(target)))
      return { refused: "a local or UNC path named by a symbol server" };
    let url: URL;
    try {
      url = new URL(target.replace(/\\/g, "/"), ptrLocation);
    } catch {
      return { refused: "not a valid URL" };
    }
    if (url.origin !== new URL(store.location).origin)
      return { refused: `another server (${url.origin}) than the store's ${new URL(store.location).origin}` };
    return { target: url.toString() };
  }
  if (isUrl(target) || windowsPath) return { refused: "outside this local store" };
  const root = resolvePath(store.location);
  const full = resolvePath(dirname(ptrLocation), target);
  const rel = relative(root, full);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) return { refused: "outside this local store" };
  return { target: full };
}

/** Reads a local file; undefined when it does not exist. */
function readLocal(path: string, maxBytes: number): Uint8Array | undefined {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) return undefined;
    size = st.size;
  } catch {
    return undefined;
  }
  if (size > maxBytes) throw new Error(`${size} bytes, more than the ${maxBytes}-byte limit`);
  return new Uint8Array(readFileSync(path));
}

/** Writes via a temporary name + rename so a crash never leaves a truncated PDB in a cache. */
function writeAtomically(path: string, bytes: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.partial`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}
