/**
 * The explorer's HTTP server: node:http only, bound to loopback, read-only (GET/HEAD), serving
 * the JSON API (api.ts) and the static page (src/web/static, copied to dist by `npm run build`).
 *
 * Hardening for a local server: requests whose Host is not a loopback name are refused (DNS
 * rebinding), and the Content-Security-Policy only allows the page's own origin, so the page
 * cannot load or send anything elsewhere.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CatalogStore } from "../catalog/store.js";
import { ApiCache, type AtlasSources, handleApi } from "./api.js";

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

/** Loads the static files once; they are small and never change while serving. */
function loadStatic(dir: string): Map<string, { type: string; body: Buffer }> {
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const name of ["index.html", "app.js", "app.css", "favicon.svg", "reach.html", "reach.js"]) {
    const p = join(dir, name);
    if (existsSync(p))
      files.set(`/${name}`, {
        type: CONTENT_TYPES[extname(name)] ?? "application/octet-stream",
        body: readFileSync(p),
      });
  }
  files.set("/", files.get("/index.html")!);
  return files;
}

function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.replace(/:\d+$/, "").toLowerCase();
  return name === "127.0.0.1" || name === "localhost" || name === "[::1]";
}

/** Opens the catalog(s) read-only and starts listening; resolves once the port is bound. */
export async function startServer(opts: ServeOptions): Promise<AtlasServer> {
  const files = loadStatic(staticDir());
  const store = CatalogStore.open(opts.dbPath, { readonly: true });
  let diffStore: CatalogStore | undefined;
  try {
    diffStore = opts.diffAgainst ? CatalogStore.open(opts.diffAgainst, { readonly: true }) : undefined;
  } catch (err) {
    store.close();
    throw err;
  }
  const sources: AtlasSources = { store, dbPath: opts.dbPath, diffStore, diffPath: opts.diffAgainst };
  const cache = new ApiCache(sources);
  // Whole-catalog answers (summary, providers list) are computed now, not on the first page load.
  handleApi(sources, cache, "/api/summary", new URLSearchParams());
  handleApi(sources, cache, "/api/providers", new URLSearchParams());
  const closeStores = () => {
    store.close();
    diffStore?.close();
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const t0 = performance.now();
    const send = (status: number, type: string, body: string | Buffer) => {
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
    if (!isLoopbackHost(req.headers.host)) {
      json(421, { error: "only loopback host names are served" });
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      json(405, { error: "read-only: GET only" });
      return;
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname.startsWith("/api/")) {
      try {
        const r = handleApi(sources, cache, url.pathname, url.searchParams);
        json(r.status, r.body);
      } catch (err) {
        json(500, { error: err instanceof Error ? err.message : String(err) });
      }
      return;
    }
    const file = files.get(url.pathname);
    if (file) send(200, file.type, file.body);
    else send(404, "text/plain; charset=utf-8", "not found");
  };

  const server = createServer(handle);
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
    closeStores();
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
          closeStores();
          resolveClose();
        });
      }),
  };
}
