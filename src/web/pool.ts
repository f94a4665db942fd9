/**
 * The explorer's API workers, seen from the request thread. Every `/api/*` request and download is
 * answered by one of a few worker threads (api-worker.ts), each with its own read-only connection,
 * answer cache and search index: a costly query (a first search of a kind, a 1,000-row page, a
 * diff, a download) occupies one worker while the others and the request thread go on serving.
 *
 * - Requests wait in one queue and go to the first idle worker (one request per worker at a time);
 *   among idle ones, to the one that answered the same request last (its cache likely holds it).
 * - Answers are kept here too (the RECENT_ANSWERS most recent, per catalog state like ApiCache),
 *   and identical requests in flight share one answer: twenty clients opening the same page cost
 *   one query, not one per worker. A shared or kept answer carries its own request's `ms` (withMs).
 * - Downloads stream with backpressure: the worker makes the next chunk when the client has taken
 *   the last one, and other requests run on that worker in between.
 * - A worker that dies fails its requests (500, or a cut download) and is replaced.
 */
import type { ServerResponse } from "node:http";
import { Worker } from "node:worker_threads";
import { drained } from "./drained.js";
import type { ToPool, ToWorker } from "./pool-messages.js";
import { RECENT_ANSWERS } from "./sources.js";

export interface ApiAnswer {
  status: number;
  text: string;
  /** Computed for another request (kept or in flight): its `ms` is that request's. */
  shared?: boolean;
}

/** At most this many characters of kept answers (a 5,000-row page is ~3 M). */
const KEPT_CHARS = 64 * 2 ** 20;

/** The answer with `ms` (the last member of timed answers) set to this request's time. */
export function withMs(text: string, ms: number): string {
  return text.replace(/,"ms":[-0-9.e+]+\}$/, `,"ms":${Math.round(ms * 10) / 10}}`);
}

interface ApiCall {
  kind: "api";
  key: string;
  /** Catalog state when it was asked. */
  version: number;
  waiters: Array<(a: ApiAnswer) => void>;
}

interface DownloadCall {
  kind: "download";
  res: ServerResponse;
  headers: Record<string, string>;
  sendError: (status: number, message: string) => void;
  started: boolean;
}

interface Slot {
  worker: Worker;
  /** 1 while it computes a request (or opens a download), else 0. */
  busy: number;
  calls: Map<number, ApiCall | DownloadCall>;
  /** Whether it has opened the catalog (a worker that fails before is not replaced). */
  ready: boolean;
}

/** A request waiting for a worker: `run` sends it to the worker chosen. */
interface Job {
  key: string;
  run: (slot: Slot) => void;
}

/** How many recent request → worker choices are remembered for the cache affinity. */
const AFFINITY_ENTRIES = 4096;
/** How long a closing worker may take to close its catalog before it is stopped. */
const CLOSE_GRACE_MS = 2000;

export class ApiPool {
  private readonly slots: Slot[] = [];
  private readonly affinity = new Map<string, Slot>();
  private readonly inFlight = new Map<string, ApiCall>();
  /** Requests waiting for an idle worker, first come first served. */
  private readonly queue: Job[] = [];
  /** Recent answers (least recently used first) of catalog state `keptVersion`. */
  private readonly kept = new Map<string, ApiAnswer>();
  private keptChars = 0;
  private keptVersion = -1;
  private nextId = 1;
  private closing = false;

  private constructor(
    private readonly dbPath: string,
    private readonly diffPath: string | undefined,
    /** The catalog's state (SQLite data_version of a connection of this thread). */
    private readonly catalogVersion: () => number,
  ) {}

  /** Starts `size` workers and resolves when each has opened the catalog and warmed its caches. */
  static async start(
    size: number,
    dbPath: string,
    diffPath: string | undefined,
    catalogVersion: () => number,
  ): Promise<ApiPool> {
    const pool = new ApiPool(dbPath, diffPath, catalogVersion);
    try {
      // The whole-catalog answers (summary, providers: ~1 s on the full corpus) are computed by the
      // first worker only and kept here, for every worker, until the catalog changes.
      await Promise.all(Array.from({ length: size }, (_, i) => pool.spawn(i === 0)));
      for (const path of ["/api/summary", "/api/providers", "/api/search"]) await pool.request(path, "");
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  private spawn(wholeCatalog: boolean): Promise<void> {
    const worker = new Worker(new URL("./api-worker.js", import.meta.url), {
      workerData: { dbPath: this.dbPath, diffPath: this.diffPath, wholeCatalog },
    });
    const slot: Slot = { worker, busy: 0, calls: new Map(), ready: false };
    this.slots.push(slot);
    return new Promise<void>((resolve, reject) => {
      worker.on("message", (m: ToPool) => {
        if (m.type === "ready") {
          slot.ready = true;
          resolve();
          this.dispatch();
        } else this.receive(slot, m);
      });
      worker.on("error", (err) => {
        if (!slot.ready) reject(err);
      });
      worker.on("exit", (code) => {
        if (!slot.ready) reject(new Error(`API worker stopped while starting (exit code ${code})`));
        this.lost(slot, code);
      });
    });
  }

  /** A worker ended: its calls fail, and (unless the pool is closing) another takes its place. */
  private lost(slot: Slot, code: number): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    for (const [k, s] of this.affinity) if (s === slot) this.affinity.delete(k);
    const why = `the API worker stopped (exit code ${code})`;
    for (const call of slot.calls.values()) {
      if (call.kind === "api") this.settle(call, { status: 500, text: JSON.stringify({ error: why }) });
      else if (call.started) call.res.destroy(new Error(why));
      else call.sendError(500, why);
    }
    slot.calls.clear();
    if (slot.ready && !this.closing) this.spawn(false).catch(() => undefined);
  }

  private post(slot: Slot, m: ToWorker): void {
    slot.worker.postMessage(m);
  }

  /**
   * Hands queued requests to idle workers: a worker gets one request at a time, so a request waits
   * for the first worker to be free, never behind a costly one queued on a busy worker. Among the
   * idle workers, the one that answered the same request last (its cache likely holds the answer).
   */
  private dispatch(): void {
    while (this.queue.length > 0) {
      const idle = this.slots.filter((s) => s.ready && s.busy === 0);
      if (idle.length === 0) return;
      const job = this.queue.shift()!;
      const preferred = this.affinity.get(job.key);
      const slot = preferred && idle.includes(preferred) ? preferred : idle[0]!;
      this.affinity.delete(job.key);
      this.affinity.set(job.key, slot);
      if (this.affinity.size > AFFINITY_ENTRIES) this.affinity.delete(this.affinity.keys().next().value!);
      slot.busy++;
      job.run(slot);
    }
  }

  /** Queues a job; it fails at once when no worker runs. */
  private enqueue(job: Job, fail: (message: string) => void): void {
    if (this.slots.length === 0) {
      fail("no API worker is running");
      return;
    }
    this.queue.push(job);
    this.dispatch();
  }

  /** Answers `/api/<name>?<query>` (status and JSON text). */
  request(path: string, query: string): Promise<ApiAnswer> {
    const key = `${path}?${query}`;
    const version = this.catalogVersion();
    if (version !== this.keptVersion) {
      this.kept.clear();
      this.keptChars = 0;
      this.inFlight.clear(); // answers computed before the change are not shared after it
      this.keptVersion = version;
    }
    const hit = this.kept.get(key);
    if (hit) {
      this.kept.delete(key);
      this.kept.set(key, hit);
      return Promise.resolve({ ...hit, shared: true });
    }
    return new Promise((resolve) => {
      const same = this.inFlight.get(key);
      if (same) {
        same.waiters.push((a) => resolve({ ...a, shared: true }));
        return;
      }
      const call: ApiCall = { kind: "api", key, version, waiters: [resolve] };
      this.inFlight.set(key, call);
      this.enqueue(
        {
          key,
          run: (slot) => {
            const id = this.nextId++;
            slot.calls.set(id, call);
            this.post(slot, { type: "api", id, path, query });
          },
        },
        (error) => this.settle(call, { status: 503, text: JSON.stringify({ error }) }),
      );
    });
  }

  /** Streams `/api/download?<query>` to `res` (errors before the first byte go to `sendError`). */
  download(
    query: string,
    res: ServerResponse,
    headers: Record<string, string>,
    sendError: (status: number, message: string) => void,
  ): void {
    let gone = false;
    res.on("close", () => {
      gone = true;
    });
    this.enqueue(
      {
        key: `/api/download?${query}`,
        run: (slot) => {
          if (gone) {
            this.idle(slot); // the client left while the download waited
            return;
          }
          const id = this.nextId++;
          slot.calls.set(id, { kind: "download", res, headers, sendError, started: false });
          res.on("close", () => {
            if (slot.calls.delete(id)) this.post(slot, { type: "cancel", id });
          });
          this.post(slot, { type: "download", id, query });
        },
      },
      (error) => sendError(503, error),
    );
  }

  /** The worker has answered its request (a download: it has started): the next job may go to it. */
  private idle(slot: Slot): void {
    slot.busy = 0;
    this.dispatch();
  }

  private settle(call: ApiCall, answer: ApiAnswer): void {
    if (this.inFlight.get(call.key) === call) this.inFlight.delete(call.key);
    if (answer.status === 200 && call.version === this.keptVersion) this.keep(call.key, answer);
    for (const w of call.waiters) w(answer);
  }

  private keep(key: string, answer: ApiAnswer): void {
    if (answer.text.length > KEPT_CHARS / 4) return;
    this.kept.set(key, answer);
    this.keptChars += answer.text.length;
    for (const [k, a] of this.kept) {
      if (this.kept.size <= RECENT_ANSWERS && this.keptChars <= KEPT_CHARS) break;
      this.kept.delete(k);
      this.keptChars -= a.text.length;
    }
  }

  private receive(slot: Slot, m: Exclude<ToPool, { type: "ready" }>): void {
    const call = slot.calls.get(m.id);
    if (!call) {
      // A download whose client went away: once opened, the worker is free again.
      if (m.type === "answer" || m.type === "head") this.idle(slot);
      return;
    }
    if (m.type === "answer") {
      slot.calls.delete(m.id);
      this.idle(slot);
      if (call.kind === "api") this.settle(call, { status: m.status, text: m.text });
      else call.sendError(m.status, (JSON.parse(m.text) as { error: string }).error);
      return;
    }
    if (call.kind !== "download") return;
    const more = () => {
      if (call.res.destroyed) {
        if (slot.calls.delete(m.id)) this.post(slot, { type: "cancel", id: m.id });
      } else this.post(slot, { type: "more", id: m.id });
    };
    if (m.type === "head") {
      call.started = true;
      this.idle(slot);
      call.res.writeHead(200, { ...call.headers, ...m.headers });
      more();
    } else if (m.type === "chunk") {
      if (call.res.write(m.data)) more();
      else drained(call.res).then(more);
    } else if (m.type === "end") {
      slot.calls.delete(m.id);
      if (m.error) call.res.destroy(new Error(m.error));
      else call.res.end();
    }
  }

  /** Closes every worker's catalog and stops the workers. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => slot.worker.terminate(), CLOSE_GRACE_MS);
            slot.worker.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            this.post(slot, { type: "close" });
          }),
      ),
    );
  }
}
