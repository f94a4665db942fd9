/**
 * One API worker of the explorer (pool.ts): its own read-only connection to the catalog, its own
 * answer cache and search index, answering `/api/*` requests and producing downloads, so that a
 * costly query runs beside the request thread and the other workers instead of in front of them.
 */
import { parentPort, workerData } from "node:worker_threads";
import { ApiCache, closeSources, handleApi, openSources, warmUp } from "./api.js";
import { openDownload } from "./download.js";
import type { ToPool, ToWorker } from "./pool-messages.js";

const port = parentPort!;
const { dbPath, diffPath, wholeCatalog } = workerData as {
  dbPath: string;
  diffPath?: string;
  wholeCatalog: boolean;
};
const sources = openSources(dbPath, diffPath);
const cache = new ApiCache(sources);
warmUp(sources, cache, wholeCatalog);

/** Downloads under way: the next chunk is produced when the request thread asks for it. */
const downloads = new Map<number, Iterator<string>>();

const send = (m: ToPool) => port.postMessage(m);

function answer(id: number, path: string, query: string): void {
  try {
    const r = handleApi(sources, cache, path, new URLSearchParams(query));
    send({ type: "answer", id, status: r.status, text: r.text ?? JSON.stringify(r.body) });
  } catch (err) {
    send({ type: "answer", id, status: 500, text: JSON.stringify({ error: errorText(err) }) });
  }
}

function nextChunk(id: number): void {
  const chunks = downloads.get(id);
  if (!chunks) return;
  try {
    const c = chunks.next();
    if (c.done) {
      downloads.delete(id);
      send({ type: "end", id });
    } else send({ type: "chunk", id, data: c.value });
  } catch (err) {
    downloads.delete(id);
    send({ type: "end", id, error: errorText(err) });
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

port.on("message", (m: ToWorker) => {
  if (m.type === "api") answer(m.id, m.path, m.query);
  else if (m.type === "download") {
    const opened = openDownload(sources, cache, new URLSearchParams(m.query));
    if ("error" in opened) {
      send({
        type: "answer",
        id: m.id,
        status: opened.status,
        text: JSON.stringify({ error: opened.error }),
      });
      return;
    }
    downloads.set(m.id, opened.chunks);
    send({ type: "head", id: m.id, headers: opened.headers });
  } else if (m.type === "more") nextChunk(m.id);
  else if (m.type === "cancel") {
    downloads.get(m.id)?.return?.(undefined);
    downloads.delete(m.id);
  } else if (m.type === "close") {
    for (const d of downloads.values()) d.return?.(undefined);
    closeSources(sources);
    port.close();
  }
});
send({ type: "ready" });
