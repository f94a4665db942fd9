/**
 * The explorer's HTTP server: node:http only, bound to loopback, read-only (GET/HEAD), serving
 * the JSON API (api.ts) and the static page (src/web/static, copied to dist by `npm run build`).
 *
 * Hardening for a local server: requests whose Host is not a loopback name are refused (DNS
 * rebinding), requests another site's page makes (Sec-Fetch-Site cross-site/same-site, or an
 * Origin that is not this server) are refused, and the Content-Security-Policy only allows the
 * page's own origin, so the page cannot load or send anything elsewhere. Every request runs inside
 * one error boundary: a malformed request line or a failing handler answers 400/500, never ends
 * the process.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ApiPool, withMs } from "./pool.js";
import { type AtlasSources, closeSources, openSources } from "./sources.js";

export const LOOPBACK = "127.0.0.1";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
};

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
};

/** The static page's directory: next to this module in dist, else the source tree. */
export function staticDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, "static"), resolve(here, "..", "..", "..", "src", "web", "static")];
  const found = candidates.find((d) => existsSync(join(d, "index.html")));
  if (!found)
    throw new Error(`web UI files not found (looked in ${candidates.join(", ")}); run npm run build`);
  return found;
}

export interface ServeOptions {
  dbPath: string;
  diffAgainst?: string;
  /** 0 = any free port. */
  port?: number;
  host?: string;
  /**
   * Worker threads answering the API (pool.ts), so that costly requests do not hold up the others;
   * 0 answers on the request thread. Default: one per core, at most 4.
   */
  workers?: number;
  /** Called for each request with its server-side time (for logging). */
  onRequest?: (method: string, url: string, status: number, ms: number) => void;
}

export interface AtlasServer {
  server: Server;
  url: string;
  port: number;
  sources: AtlasSources;
  close(): Promise<void>;
}

/** Loads the static files once (the page and its per-view modules); they are small and never change. */
function loadStatic(dir: string): Map<string, { type: string; body: Buffer }> {
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const type = CONTENT_TYPES[extname(name)];
    if (type) files.set(`/${name.split(sep).join("/")}`, { type, body: readFileSync(join(dir, name)) });
  }
  files.set("/", files.get("/index.html")!);
  return files;
}

function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.replace(/:\d+$/, "").toLowerCase();
  return name === "127.0.0.1" || name === "localhost" || name === "[::1]";
}

/**
 * Why a request made by another site's page is refused, or undefined for our own page, the user's
 * address bar and non-browser clients. Browsers send Sec-Fetch-Site on every request (and Origin on
 * cross-origin fetches), so a page elsewhere cannot make the user's browser run searches here.
 * A top-level navigation from elsewhere (a link to the explorer) may still load the page itself.
 */
export function crossSiteRefusal(req: IncomingMessage, path: string): string | undefined {
  const site = req.headers["sec-fetch-site"];
  const navigation = req.headers["sec-fetch-mode"] === "navigate" && !path.startsWith("/api/");
  if ((site === "cross-site" || site === "same-site") && !navigation)
    return `cross-site request refused (Sec-Fetch-Site: ${site})`;
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host !== req.headers.host) return `request from another origin refused (Origin: ${origin})`;
  }
  return undefined;
}

/** The request target's path and query, or undefined when it is not a valid URL (e.g. `http://[/`). */
function parseTarget(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? "/", "http://localhost");
  } catch {
    return undefined;
  }
}

/** API workers by default: one per core, at most this many (each holds its own caches and index). */
const MAX_API_WORKERS = 4;

/** Opens the catalog(s) read-only and starts listening; resolves once the port is bound. */
export async function startServer(opts: ServeOptions): Promise<AtlasServer> {
  const files = loadStatic(staticDir());
  const sources = openSources(opts.dbPath, opts.diffAgainst);
  const workers = opts.workers ?? Math.min(availableParallelism(), MAX_API_WORKERS);
  // Answers on this thread (workers: 0) or in the API workers (pool.ts), each of which warms its
  // own caches (api.ts warmUp) before the server listens.
  let inThread:
    | {
        api: typeof import("./api.js");
        download: typeof import("./download.js");
        cache: import("./api.js").ApiCache;
      }
    | undefined;
  let pool: ApiPool | undefined;
  try {
    if (workers > 0)
      pool = await ApiPool.start(
        workers,
        opts.dbPath,
        opts.diffAgainst,
        () => sources.store.db.pragma("data_version", { simple: true }) as number,
      );
    else {
      // The API's modules (with the analysis, for reach answers) load only where they answer.
      const [api, download] = await Promise.all([import("./api.js"), import("./download.js")]);
      inThread = { api, download, cache: new api.ApiCache(sources) };
      api.warmUp(sources, inThread.cache);
    }
  } catch (err) {
    closeSources(sources);
    throw err;
  }
  const closeAll = async () => {
    await pool?.close();
    closeSources(sources);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const t0 = performance.now();
    const send = (status: number, type: string, body: string | Buffer) => {
      if (res.headersSent) return;
      res.writeHead(status, {
        "content-type": type,
        "cache-control": "no-store",
        ...SECURITY_HEADERS,
      });
      res.end(req.method === "HEAD" ? undefined : body);
      opts.onRequest?.(req.method ?? "", req.url ?? "", status, performance.now() - t0);
    };
    const json = (status: number, body: unknown) =>
      send(status, "application/json; charset=utf-8", JSON.stringify(body));
    try {
      route(req, res, send, json, t0);
    } catch (err) {
      json(500, { error: err instanceof Error ? err.message : String(err) });
    }
  };

  const route = (
    req: IncomingMessage,
    res: ServerResponse,
    send: (status: number, type: string, body: string | Buffer) => void,
    json: (status: number, body: unknown) => void,
    t0: number,
  ): void => {
    if (!isLoopbackHost(req.headers.host)) {
      json(421, { error: "only loopback host names are served" });
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      json(405, { error: "read-only: GET only" });
      return;
    }
    const url = parseTarget(req.url);
    if (!url) {
      json(400, { error: "malformed request target" });
      return;
    }
    const refused = crossSiteRefusal(req, url.pathname);
    if (refused) {
      json(403, { error: refused });
      return;
    }
    if (url.pathname === "/api/download") {
      // Streamed (the whole result, not a page): written as the client takes it.
      const sendError = (status: number, error: string) => json(status, { error });
      if (pool) pool.download(url.search.slice(1), res, SECURITY_HEADERS, sendError);
      else
        inThread!.download
          .streamDownload(sources, inThread!.cache, url.searchParams, res, SECURITY_HEADERS, sendError)
          .catch((err) => res.destroy(err));
      return;
    }
    if (url.pathname.startsWith("/api/")) {
      if (pool) {
        pool
          .request(url.pathname, url.search.slice(1))
          .then((r) =>
            send(
              r.status,
              "application/json; charset=utf-8",
              r.shared ? withMs(r.text, performance.now() - t0) : r.text,
            ),
          )
          .catch((err) => json(500, { error: err instanceof Error ? err.message : String(err) }));
        return;
      }
      const r = inThread!.api.handleApi(sources, inThread!.cache, url.pathname, url.searchParams);
      if (r.text !== undefined) send(r.status, "application/json; charset=utf-8", r.text);
      else json(r.status, r.body);
      return;
    }
    const file = files.get(url.pathname);
    if (file) send(200, file.type, file.body);
    else send(404, "text/plain; charset=utf-8", "not found");
  };

  // Keep-alive sockets stay open longer than a browser or client pool keeps them idle, so a
  // client never reuses a socket the server is just closing (a reset under load).
  const server = createServer({ keepAliveTimeout: 65_000, headersTimeout: 70_000 }, handle);
  const host = opts.host ?? LOOPBACK;
  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once("error", reject);
      server.listen(opts.port ?? 0, host, () => {
        server.off("error", reject);
        resolveListen();
      });
    });
  } catch (err) {
    await closeAll();
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE")
      (err as Error).message = `port ${opts.port} on ${host} is in use (use --port 0 for any free port)`;
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://${host}:${port}/`,
    sources,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => {
          closeAll().then(resolveClose);
        });
      }),
  };
}
