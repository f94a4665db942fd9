/**
 * The search index: a derived, columnar copy of what `searchEvents` filters on, so that every
 * query costs a few passes over typed arrays instead of index scans over the (wide) events table.
 *
 * - Events are numbered by *rank*: their position in the result order (provider name NOCASE, event
 *   id, version, row id). A result page is then the first matches in rank order.
 * - Per-event columns (kind, provider name, GUID, event name, build: dictionary ids; event id,
 *   version; keyword mask as two 32-bit halves) are stored as little-endian typed-array blobs in
 *   `search_index(part, data)`.
 * - Field names, keyword names and full-text tokens are dictionaries with posting lists (ranks).
 *   Globs are matched against the distinct values (tens of thousands) instead of every row
 *   (hundreds of thousands), in SQL (`search_dict`) so LIKE/NOCASE semantics stay SQLite's.
 * - Full text: each event's text columns (view `v_event_text`) split at whitespace into distinct
 *   lower-case tokens. A query word (no whitespace) is a substring of a column exactly when it is
 *   a substring of one of its tokens, so words of any length use the same path.
 *
 * Segments: the index is a list of segments, each over one range of event row ids
 * (`search_segments`), with its own ranks, dictionaries and posting lists (`search_index` and
 * `search_dict` rows carry the segment id). `CatalogStore.refreshDerived()` (after each scan)
 * indexes the events added since in a new segment, rebuilds only segments that lost events (a
 * trigger records removed row ids; ids are never reused) or whose provider names changed, and merges the newest
 * segment into the one before while it is at least as large (so there are O(log n) segments and
 * each event is re-indexed O(log n) times): adding a file costs in proportion to the file, not to
 * the catalog. A query runs per segment; pages merge the segments' hits in result order.
 *
 * The index is used only while `meta.search_index_generation` equals `meta.data_generation`
 * (bumped by triggers whenever a file row is added or removed); otherwise search falls back to
 * plain SQL with the same results.
 */
import { endianness } from "node:os";
import type { Db } from "./store.js";

/** Dictionaries whose values are matched in SQL (`search_dict`). */
type SqlDict = "kind" | "pname" | "guid" | "name" | "build" | "field" | "keyword";

const NO_VALUE = 0xffffffff;

/** Blobs with one entry per event (rank order); `rowids` defines the count. */
const PER_EVENT_PARTS = new Set([
  "kind",
  "pname",
  "guid",
  "name",
  "build",
  "event_id",
  "version",
  "mask_lo",
  "mask_hi",
]);

function damaged(part: string, why: string): Error {
  return new Error(`the catalog's search index is damaged (part ${part}: ${why}); re-scan to rebuild it`);
}

interface SegmentRange {
  /** Existing segment ids this range replaces (none for new events). */
  replaces: number[];
  first: number;
  last: number;
  events: number;
  /** Whether its index must be (re)built. */
  build: boolean;
}

/**
 * Brings the index up to date (one transaction): indexes new events, rebuilds segments that lost
 * events or hold events of `changedProviders` (provider row ids whose name changed), merges the
 * tail. Returns the number of events (re)indexed.
 */
export function updateSearchIndex(db: Db, generation: string, changedProviders: number[] = []): number {
  if (endianness() !== "LE") return 0; // blobs are little-endian typed arrays
  const run = db.transaction(() => {
    const segments = db
      .prepare(
        "SELECT id, first_event AS first, last_event AS last, events FROM search_segments ORDER BY first_event",
      )
      .all() as Array<{ id: number; first: number; last: number; events: number }>;
    // Segments that lost events (recorded by a trigger; counting every segment's rows would read
    // the whole events table) are rebuilt over what is left of their range.
    const countIn = db.prepare("SELECT count(*) FROM events WHERE id BETWEEN ? AND ?").pluck();
    const lost = db.prepare("SELECT 1 FROM removed_events WHERE event_id BETWEEN ? AND ? LIMIT 1").pluck();
    const ranges: SegmentRange[] = segments.map((g) => {
      if (lost.get(g.first, g.last) === undefined)
        return { replaces: [g.id], first: g.first, last: g.last, events: g.events, build: false };
      const events = countIn.get(g.first, g.last) as number;
      return { replaces: [g.id], first: g.first, last: g.last, events, build: true };
    });
    db.exec("DELETE FROM removed_events");
    const providerSpan = db.prepare("SELECT min(id) AS lo, max(id) AS hi FROM events WHERE provider_id = ?");
    for (const pid of changedProviders) {
      const { lo, hi } = providerSpan.get(pid) as { lo: number | null; hi: number | null };
      if (lo === null || hi === null) continue;
      for (const r of ranges) if (r.first <= hi && r.last >= lo) r.build = true;
    }
    const indexedUpTo = segments.reduce((m, g) => Math.max(m, g.last), 0);
    const added = db
      .prepare("SELECT count(*) AS n, max(id) AS hi FROM events WHERE id > ?")
      .get(indexedUpTo) as { n: number; hi: number | null };
    if (added.n > 0)
      ranges.push({ replaces: [], first: indexedUpTo + 1, last: added.hi!, events: added.n, build: true });
    // The newest segment joins the one before while it is at least as large.
    for (;;) {
      const newer = ranges[ranges.length - 1];
      const older = ranges[ranges.length - 2];
      if (!newer || !older || newer.events < older.events) break;
      ranges.splice(ranges.length - 2, 2, {
        replaces: [...older.replaces, ...newer.replaces],
        first: older.first,
        last: newer.last,
        events: older.events + newer.events,
        build: true,
      });
    }
    let indexed = 0;
    const drop = (ids: number[]) => {
      for (const sql of [
        "DELETE FROM search_index WHERE segment = ?",
        "DELETE FROM search_dict WHERE segment = ?",
        "DELETE FROM search_segments WHERE id = ?",
      ]) {
        const st = db.prepare(sql);
        for (const id of ids) st.run(id);
      }
    };
    for (const r of ranges) {
      if (!r.build && r.events > 0) continue;
      drop(r.replaces);
      if (r.events === 0) continue;
      const segment = Number(
        db
          .prepare("INSERT INTO search_segments(first_event, last_event, events) VALUES (?, ?, ?)")
          .run(r.first, r.last, r.events).lastInsertRowid,
      );
      indexed += buildSegment(db, segment, r.first, r.last);
    }
    db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES ('search_index_generation', ?)").run(
      generation,
    );
    return indexed;
  });
  return run();
}

/** Indexes the events with row ids first..last as segment `segment`. Returns their number. */
function buildSegment(db: Db, segment: number, first: number, last: number): number {
  const { n } = db.prepare("SELECT count(*) AS n FROM events WHERE id BETWEEN ? AND ?").get(first, last) as {
    n: number;
  };
  const rankOf = new Int32Array(last - first + 1).fill(-1);
  const rankOfRow = (rowid: number) => rankOf[rowid - first] ?? -1;
  const rowids = new Uint32Array(n);
  const kind = new Uint32Array(n);
  const pname = new Uint32Array(n);
  const guid = new Uint32Array(n);
  const name = new Uint32Array(n);
  const build = new Uint32Array(n);
  const eventId = new Float64Array(n);
  const version = new Float64Array(n);
  const maskLo = new Uint32Array(n);
  const maskHi = new Uint32Array(n);
  const dicts = {
    kind: new Map<string, number>(),
    pname: new Map<string, number>(),
    guid: new Map<string, number>(),
    name: new Map<string, number>(),
    build: new Map<string, number>(),
  };
  const idOf = (dict: Map<string, number>, v: string) => {
    let id = dict.get(v);
    if (id === undefined) dict.set(v, (id = dict.size));
    return id;
  };
  // Streamed, not loaded: a segment may hold a million events.
  const rows = db
    .prepare(
      `SELECT id, kind, provider_name, provider_guid, event_id, version, name, build,
         keyword_mask_int & 4294967295 AS lo, (keyword_mask_int >> 32) & 4294967295 AS hi
       FROM events WHERE id BETWEEN ? AND ? ORDER BY provider_name COLLATE NOCASE, event_id, version, id`,
    )
    .raw()
    .iterate(first, last) as IterableIterator<
    [number, string, string, string, number, number, string, string | null, number, number]
  >;
  let rank = 0;
  for (const r of rows) {
    rankOf[r[0] - first] = rank;
    rowids[rank] = r[0];
    kind[rank] = idOf(dicts.kind, r[1]);
    pname[rank] = idOf(dicts.pname, r[2]);
    guid[rank] = idOf(dicts.guid, r[3]);
    eventId[rank] = r[4];
    version[rank] = r[5];
    name[rank] = idOf(dicts.name, r[6]);
    build[rank] = r[7] === null ? NO_VALUE : idOf(dicts.build, r[7]);
    maskLo[rank] = r[8];
    maskHi[rank] = r[9];
    rank++;
  }

  const fields = postings(
    db
      .prepare("SELECT event_id, name FROM event_fields WHERE event_id BETWEEN ? AND ?")
      .raw()
      .iterate(first, last),
    rankOfRow,
  );
  const keywords = postings(
    db
      .prepare("SELECT event_id, name FROM event_keywords WHERE event_id BETWEEN ? AND ?")
      .raw()
      .iterate(first, last),
    rankOfRow,
  );
  const tokens = new Postings();
  const text = db
    .prepare(
      "SELECT rowid, provider, name, fields, keywords, message FROM v_event_text WHERE rowid BETWEEN ? AND ?",
    )
    .raw()
    .iterate(first, last) as IterableIterator<[number, ...Array<string | null>]>;
  for (const [rowid, ...columns] of text) {
    const rank = rankOfRow(rowid);
    if (rank < 0) continue;
    for (const column of columns)
      if (column) for (const token of column.toLowerCase().split(/\s+/)) if (token) tokens.add(token, rank);
  }

  const putPart = db.prepare("INSERT INTO search_index(segment, part, data) VALUES (?, ?, ?)");
  const put = (part: string, a: ArrayBufferView) =>
    putPart.run(segment, part, Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  put("rowids", rowids);
  put("kind", kind);
  put("pname", pname);
  put("guid", guid);
  put("name", name);
  put("build", build);
  put("event_id", eventId);
  put("version", version);
  put("mask_lo", maskLo);
  put("mask_hi", maskHi);
  for (const [part, p] of [
    ["field", fields],
    ["keyword", keywords],
    ["token", tokens],
  ] as const) {
    const { offsets, list } = p.pack();
    put(`${part}.offsets`, offsets);
    put(`${part}.postings`, list);
  }
  putPart.run(segment, "token.values", Buffer.from(tokens.values().join("\n")));
  const putDict = db.prepare("INSERT INTO search_dict(segment, dict, id, value) VALUES (?, ?, ?, ?)");
  const dictEntries: Array<[SqlDict, Iterable<string>]> = [
    ["kind", dicts.kind.keys()],
    ["pname", dicts.pname.keys()],
    ["guid", dicts.guid.keys()],
    ["name", dicts.name.keys()],
    ["build", dicts.build.keys()],
    ["field", fields.values()],
    ["keyword", keywords.values()],
  ];
  for (const [dict, values] of dictEntries) {
    let id = 0;
    for (const v of values) putDict.run(segment, dict, id++, v);
  }
  return n;
}

/** Distinct values, each with the distinct ranks of the events that have it. */
class Postings {
  private readonly ids = new Map<string, number>();
  private readonly lists: number[][] = [];

  add(value: string, rank: number): void {
    let id = this.ids.get(value);
    if (id === undefined) {
      this.ids.set(value, (id = this.lists.length));
      this.lists.push([]);
    }
    // Callers add all values of one event before the next event's, so a repeat is the last entry.
    const list = this.lists[id]!;
    if (list[list.length - 1] !== rank) list.push(rank);
  }

  values(): string[] {
    return [...this.ids.keys()];
  }

  pack(): { offsets: Uint32Array; list: Uint32Array } {
    const offsets = new Uint32Array(this.lists.length + 1);
    let total = 0;
    this.lists.forEach((l, i) => {
      offsets[i] = total;
      total += l.length;
    });
    offsets[this.lists.length] = total;
    const list = new Uint32Array(total);
    this.lists.forEach((l, i) => {
      list.set(l, offsets[i]!);
    });
    return { offsets, list };
  }
}

function postings(rows: IterableIterator<unknown>, rankOf: (rowid: number) => number): Postings {
  const p = new Postings();
  for (const [rowid, value] of rows as IterableIterator<[number, string]>) {
    const rank = rankOf(rowid);
    if (rank >= 0) p.add(value, rank);
  }
  return p;
}

/** One loaded segment: parts are read from the catalog on first use and kept. */
export class Segment {
  private readonly parts = new Map<string, ArrayBufferView>();
  private tokenValues?: { text: string; starts: Uint32Array };
  readonly size: number;

  constructor(
    private readonly db: Db,
    readonly id: number,
  ) {
    this.size = this.u32("rowids").length;
  }

  private blob(part: string): Buffer {
    const row = this.db
      .prepare("SELECT data FROM search_index WHERE segment = ? AND part = ?")
      .get(this.id, part) as { data: Buffer } | undefined;
    if (!row) throw new Error(`search index part ${part} is missing; re-scan the catalog`);
    return row.data;
  }

  /** Typed-array view of a blob (copied when the blob is not aligned), checked before first use. */
  private view<T extends ArrayBufferView & ArrayLike<number>>(
    part: string,
    make: (b: ArrayBuffer, offset: number, length: number) => T,
    width: number,
  ): T {
    let v = this.parts.get(part) as T | undefined;
    if (!v) {
      const b = this.blob(part);
      if (b.byteLength % width !== 0)
        throw damaged(part, `${b.byteLength} bytes is not a multiple of ${width}`);
      const aligned = b.byteOffset % width === 0 ? b : (new Uint8Array(b) as unknown as Buffer); // copy
      v = make(aligned.buffer as ArrayBuffer, aligned.byteOffset, aligned.byteLength / width);
      this.parts.set(part, v);
      // `size` is unset while the constructor reads `rowids` itself.
      if (this.size !== undefined) this.check(part, v);
    }
    return v;
  }

  /**
   * A tampered or torn blob must give an error, not a loop over 2^32 postings or reads past an
   * array: per-event columns have one entry per event, posting offsets rise to the list's end,
   * postings name existing events.
   */
  private check(part: string, v: ArrayLike<number>): void {
    if (PER_EVENT_PARTS.has(part) && v.length !== this.size)
      throw damaged(part, `${v.length} entries for ${this.size} events`);
    if (part.endsWith(".offsets")) {
      const list = this.u32(part.replace(/\.offsets$/, ".postings"));
      let prev = 0;
      for (let i = 0; i < v.length; i++) {
        if (v[i]! < prev) throw damaged(part, `offset ${i} goes backwards`);
        prev = v[i]!;
      }
      if (v.length === 0 || prev !== list.length)
        throw damaged(part, `offsets end at ${prev}, the posting list has ${list.length} entries`);
    }
    if (part.endsWith(".postings"))
      for (let i = 0; i < v.length; i++)
        if (v[i]! >= this.size) throw damaged(part, `posting ${i} names event ${v[i]} of ${this.size}`);
  }

  u32(part: string): Uint32Array {
    return this.view(part, (b, o, l) => new Uint32Array(b, o, l), 4);
  }

  f64(part: string): Float64Array {
    return this.view(part, (b, o, l) => new Float64Array(b, o, l), 8);
  }

  /** Ids of the dictionary values matching `sql` (a condition on `value`), as flags by id. */
  matchDict(dict: SqlDict, condition: string, param: unknown): Uint8Array {
    const ids = this.db
      .prepare(`SELECT id FROM search_dict WHERE segment = ? AND dict = ? AND ${condition}`)
      .pluck()
      .all(this.id, dict, param) as number[];
    // Per-event dictionaries have at most one value per event; field/keyword ids index posting lists.
    const bound = dict === "field" || dict === "keyword" ? this.u32(`${dict}.offsets`).length - 1 : this.size;
    for (const id of ids)
      if (!Number.isInteger(id) || id < 0 || id >= bound)
        throw damaged(`search_dict ${dict}`, `id ${id} is outside 0..${bound - 1}`);
    const flags = new Uint8Array(ids.reduce((m, id) => Math.max(m, id + 1), 0));
    for (const id of ids) flags[id] = 1;
    return flags;
  }

  /**
   * Flags by token id: the full-text tokens containing `word` (lower case, no whitespace). One
   * native substring search over all tokens joined by newlines (a word holds no newline, so a hit
   * lies inside one token), not one `includes` call per token: 300,000 tokens cost milliseconds.
   */
  tokensContaining(word: string): Uint8Array {
    const { text, starts } = this.tokenText();
    const flags = new Uint8Array(starts.length);
    if (!word) return flags.fill(1);
    for (let at = text.indexOf(word); at >= 0; ) {
      // The token holding offset `at`: the last start <= at.
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (starts[mid]! <= at) lo = mid;
        else hi = mid - 1;
      }
      flags[lo] = 1;
      at = lo + 1 < starts.length ? text.indexOf(word, starts[lo + 1]!) : -1;
    }
    return flags;
  }

  /** The distinct tokens in dictionary order (patterns test each; plain words use tokensContaining). */
  tokens(): string[] {
    const { text, starts } = this.tokenText();
    return starts.length ? text.split("\n") : [];
  }

  /** Reads (and checks) every part now, so that no later query pays for it. */
  load(): void {
    for (const part of PER_EVENT_PARTS)
      if (part === "event_id" || part === "version") this.f64(part);
      else this.u32(part);
    for (const dict of ["field", "keyword", "token"]) this.u32(`${dict}.offsets`);
    this.tokenText();
  }

  private tokenText(): { text: string; starts: Uint32Array } {
    if (!this.tokenValues) {
      const text = this.blob("token.values").toString("utf8");
      const offsets = this.u32("token.offsets");
      const count = offsets.length - 1;
      const starts = new Uint32Array(text === "" ? 0 : count);
      let n = 0;
      if (text !== "") {
        starts[n++] = 0;
        for (let i = text.indexOf("\n"); i >= 0 && n <= count; i = text.indexOf("\n", i + 1)) {
          if (n < count) starts[n] = i + 1;
          n++;
        }
      }
      if (n !== count) throw damaged("token.values", `${n} tokens for ${count} posting lists`);
      this.tokenValues = { text, starts };
    }
    return this.tokenValues;
  }

  /** Flags by rank: events in the posting lists of the flagged dictionary ids. */
  union(dict: "field" | "keyword" | "token", flags: Uint8Array): Uint8Array {
    const offsets = this.u32(`${dict}.offsets`);
    const list = this.u32(`${dict}.postings`);
    const hit = new Uint8Array(this.size);
    for (let id = 0; id < flags.length; id++) {
      if (!flags[id]) continue;
      for (let i = offsets[id]!, end = offsets[id + 1]!; i < end; i++) hit[list[i]!] = 1;
    }
    return hit;
  }
}

/** A loaded index: its segments in row-id order and, for merging pages, the provider-name order. */
export class SearchIndex {
  private pnameRanks?: Map<number, Uint32Array>;

  constructor(
    private readonly db: Db,
    readonly generation: string,
    readonly segments: Segment[],
  ) {}

  /** Reads every part of every segment now (a server does, at start). */
  load(): void {
    for (const segment of this.segments) {
      segment.load();
      if (this.segments.length > 1) this.pnameRank(segment);
    }
  }

  /**
   * Per segment: local provider-name id → position of the name in NOCASE order over all segments
   * (names equal under NOCASE share a position), so hits of several segments merge in result order.
   */
  pnameRank(segment: Segment): Uint32Array {
    if (!this.pnameRanks) {
      const rows = this.db
        .prepare(
          `SELECT segment, id, dense_rank() OVER (ORDER BY value COLLATE NOCASE) AS r
           FROM search_dict WHERE dict = 'pname'`,
        )
        .raw()
        .all() as Array<[number, number, number]>;
      const ranks = new Map<number, Uint32Array>();
      const sizes = new Map<number, number>();
      for (const [seg, id] of rows) sizes.set(seg, Math.max(sizes.get(seg) ?? 0, id + 1));
      for (const [seg, n] of sizes) ranks.set(seg, new Uint32Array(n));
      for (const [seg, id, r] of rows) ranks.get(seg)![id] = r;
      this.pnameRanks = ranks;
    }
    const ranks = this.pnameRanks.get(segment.id) ?? new Uint32Array(0);
    const pname = segment.u32("pname");
    for (let r = 0; r < pname.length; r++)
      if (pname[r]! >= ranks.length) throw damaged("pname", `name id ${pname[r]} has no dictionary entry`);
    return ranks;
  }
}

const loaded = new WeakMap<Db, SearchIndex>();

/** Whether this connection has read the search index (it is then kept, see currentSearchIndex). */
export function searchIndexRead(db: Db): boolean {
  return loaded.has(db);
}

/** The catalog's search index when it is current, else undefined (search then uses plain SQL). */
export function currentSearchIndex(db: Db): SearchIndex | undefined {
  if (endianness() !== "LE") return undefined;
  const row = db
    .prepare(
      `SELECT (SELECT value FROM meta WHERE key = 'data_generation') AS data,
              (SELECT value FROM meta WHERE key = 'search_index_generation') AS indexed`,
    )
    .get() as { data: string | null; indexed: string | null };
  if (row.data === null || row.indexed === null || String(row.data) !== String(row.indexed)) return undefined;
  const cached = loaded.get(db);
  if (cached && cached.generation === String(row.data)) return cached;
  const ids = db.prepare("SELECT id FROM search_segments ORDER BY first_event").pluck().all() as number[];
  const index = new SearchIndex(
    db,
    String(row.data),
    ids.map((id) => new Segment(db, id)),
  );
  loaded.set(db, index);
  return index;
}
