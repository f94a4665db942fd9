/** Messages between the request thread (pool.ts) and the API workers (api-worker.ts). */

export type ToWorker =
  | { type: "api"; id: number; path: string; query: string }
  /** Opens a download: answered by `head` (then chunks on `more`) or by an error `answer`. */
  | { type: "download"; id: number; query: string }
  | { type: "more"; id: number }
  | { type: "cancel"; id: number }
  | { type: "close" };

export type ToPool =
  | { type: "ready" }
  | { type: "answer"; id: number; status: number; text: string }
  | { type: "head"; id: number; headers: Record<string, string> }
  | { type: "chunk"; id: number; data: string }
  /** The download is complete, or failed after its first bytes (`error`: the response is cut). */
  | { type: "end"; id: number; error?: string };
