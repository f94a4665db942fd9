// searchEvents/countEvents against a brute-force filter over every stored event record, on a real
// catalog (corpus manifests, wmicore.mof, TraceLogging and Win7 WEVT_TEMPLATE images). Both
// evaluations are checked: the search index (current after the scan) and plain SQL (index stale).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { CatalogEvent } from "../../src/catalog/model.js";
import { countEvents, type EventQuery, getEvent, searchEvents } from "../../src/catalog/search.js";
import { currentSearchIndex, searchIndexRead } from "../../src/catalog/search-index.js";
import { CatalogStore, flattenFields } from "../../src/catalog/store.js";
import { readers } from "../../src/pipeline/readers.js";
import { scanPaths } from "../../src/pipeline/scan.js";
import { unpackTarXz } from "../../src/util/tar-xz.js";
import { corpus } from "../helpers/corpus.js";

interface Known {
  rowid: number;
  ev: CatalogEvent;
  fieldNames: string[];
  /** The full-text columns, as search describes them. */
  text: string[];
  mask: bigint;
}

const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** SQLite LIKE/NOCASE semantics for our globs: ASCII case folding, `*` any run, `?` one character. */
function globMatches(glob: string, value: string): boolean {
  if (!/[*?]/.test(glob)) return asciiLower(glob) === asciiLower(value);
  const re = asciiLower(glob)
    .split("")
    .map((c) => (c === "*" ? "[\\s\\S]*" : c === "?" ? "." : c.replace(/[\\^$.|+(){}[\]]/g, "\\$&")))
    .join("");
  return new RegExp(`^${re}$`, "su").test(asciiLower(value));
}

const GUID = /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i;

function oracle(all: Known[], q: EventQuery): Known[] {
  return all.filter(({ ev, fieldNames, text, mask }) => {
    if (q.provider) {
      if (GUID.test(q.provider)) {
        if (ev.provider.guid !== q.provider.replace(/[{}]/g, "").toLowerCase()) return false;
      } else if (!globMatches(q.provider, ev.provider.name)) return false;
    }
    if (q.name && !globMatches(q.name, ev.name)) return false;
    if (q.kind && ev.kind !== q.kind) return false;
    if (q.id !== undefined && ev.id !== q.id) return false;
    if (q.version !== undefined && ev.version !== q.version) return false;
    if (q.build && ev.provenance.build !== q.build) return false;
    if (q.field && !fieldNames.some((f) => globMatches(q.field!, f))) return false;
    if (q.keyword) {
      if (/^0x[0-9a-f]+$/i.test(q.keyword)) {
        if ((mask & BigInt.asUintN(64, BigInt(q.keyword))) === 0n) return false;
      } else if (!ev.keywords.names.some((k) => globMatches(q.keyword!, k))) return false;
    }
    if (q.text?.trim()) {
      const words = q.text.trim().toLowerCase().split(/\s+/);
      if (!words.every((w) => text.some((t) => t.toLowerCase().includes(w)))) return false;
    }
    return true;
  });
}

function sqliteNocaseOrder(a: Known, b: Known): number {
  const pa = Buffer.from(asciiLower(a.ev.provider.name));
  const pb = Buffer.from(asciiLower(b.ev.provider.name));
  return Buffer.compare(pa, pb) || a.ev.id - b.ev.id || a.ev.version - b.ev.version || a.rowid - b.rowid;
}

/** Deterministic pseudo-random numbers (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeQueries(all: Known[], rnd: () => number): EventQuery[] {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const some = () => pick(all);
  const flipCase = (s: string) =>
    s.replace(/[a-z]/gi, (c) => (rnd() < 0.3 ? c.toUpperCase() : c.toLowerCase()));
  const piece = (s: string, len: number) => {
    if (s.length <= len) return s;
    const at = Math.floor(rnd() * (s.length - len));
    return s.slice(at, at + len);
  };
  const globOf = (s: string): string => {
    switch (Math.floor(rnd() * 6)) {
      case 0:
        return flipCase(s);
      case 1:
        return `*${piece(s, 1 + Math.floor(rnd() * 2))}*`; // fewer than 3 literal letters
      case 2:
        return `${s.slice(0, 1 + Math.floor(rnd() * 4))}*`;
      case 3:
        return `*${s.slice(-3)}`;
      case 4:
        return s.replace(/[a-z]/i, "?");
      default:
        return `*${piece(s, 3 + Math.floor(rnd() * 4))}*`;
    }
  };
  const asciiWords = (t: string) => t.split(/\s+/).filter((w) => /^[\x21-\x7e]+$/.test(w));
  const textWord = (): string => {
    const k = some();
    const words = asciiWords(pick(k.text));
    if (words.length === 0) return "qzx";
    // A plain word of the text language: no quotes, wildcards, parentheses, leading "-" or operator.
    const w = flipCase(piece(pick(words), 1 + Math.floor(rnd() * 6)))
      .replace(/["*?()]/g, "")
      .replace(/^-+/, "");
    if (!w) return "qzx";
    return /^(OR|NOT|AND|NEAR)$/.test(w) ? w.toLowerCase() : w;
  };
  const withFields = all.filter((k) => k.fieldNames.length);
  const withKeywords = all.filter((k) => k.ev.keywords.names.length);
  const builds = [...new Set(all.map((k) => k.ev.provenance.build).filter(Boolean))] as string[];
  const one = (): EventQuery => {
    switch (Math.floor(rnd() * 9)) {
      case 0:
        return { field: globOf(pick(pick(withFields).fieldNames)) };
      case 1: {
        if (rnd() < 0.3) {
          const bit = BigInt(Math.floor(rnd() * 64));
          return { keyword: `0x${(1n << bit).toString(16)}` };
        }
        if (rnd() < 0.2) return { keyword: pick(withKeywords).ev.keywords.mask };
        return { keyword: globOf(pick(pick(withKeywords).ev.keywords.names)) };
      }
      case 2: {
        const p = some().ev.provider;
        if (rnd() < 0.3 && p.guid) return { provider: rnd() < 0.5 ? `{${p.guid.toUpperCase()}}` : p.guid };
        return { provider: rnd() < 0.2 ? "*" : globOf(p.name || "x") };
      }
      case 3:
        return { name: rnd() < 0.2 ? pick(["*", "task_*", "?"]) : globOf(some().ev.name) };
      case 4:
        return { kind: pick(["manifest", "mof", "tracelogging", "wpp", "Manifest"]) };
      case 5:
        return { text: Array.from({ length: 1 + Math.floor(rnd() * 3) }, textWord).join(" ") };
      case 6:
        return rnd() < 0.5 ? { id: some().ev.id } : { id: some().ev.id, version: some().ev.version };
      case 7:
        return { build: pick(builds) };
      default:
        return { text: pick(["a", "e", "ab", "id", "Id", "qz", "%", "_", "1", "zzzzzz", "."]) };
    }
  };
  const queries: EventQuery[] = [{}, { provider: "*" }, { name: "*" }, { field: "*" }, { keyword: "*" }];
  for (let i = 0; i < 160; i++) queries.push(one());
  for (let i = 0; i < 120; i++) queries.push({ ...one(), ...one(), ...(rnd() < 0.3 ? one() : {}) });
  return queries.map((q) => {
    const r = rnd();
    if (r < 0.15) return { ...q, limit: -1 };
    if (r < 0.3) return { ...q, limit: 1 + Math.floor(rnd() * 50), offset: Math.floor(rnd() * 300) };
    if (r < 0.35) return { ...q, limit: 0 };
    return q; // default limit (1000)
  });
}

const tmp = mkdtempSync(join(tmpdir(), "etw-atlas-search-oracle-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Big, varied providers of every build in the 2,417-manifest archive. */
function extractManifests(): string {
  const providers = ["Kernel-Process", "Kernel-File", "Kernel-Network", "Kernel-Registry", "PowerShell"];
  const builds = ["Win10-10240", "Win10-17134", "Win10-18990", "Win7-7600"];
  const members = builds.flatMap((b) => providers.map((p) => `Manifests-${b}/Microsoft-Windows-${p}.xml`));
  members.push(
    "Manifests-Win10-17134/Microsoft-Windows-SMBServer.xml",
    "Manifests-Win10-18990/Microsoft-Windows-TCPIP.xml",
  );
  return unpackTarXz(corpus("manifests/tdh-reconstructed-all.tar.xz"), tmp, members);
}

describe("search results equal a brute-force filter over every event (real catalog)", () => {
  let store: CatalogStore;
  let all: Known[];
  let queries: EventQuery[];

  before(() => {
    store = CatalogStore.open(":memory:");
    const summary = scanPaths(
      [
        corpus("manifests/tdh-reconstructed"),
        extractManifests(),
        corpus("manifests/dxcetw.man"),
        corpus("mof/wmicore.mof"),
        corpus("pe/user/OpenConsole.exe"),
        corpus("pe/user/csrsrv_6.1.7601.17514.dll"),
        corpus("pe/kernel/dxgkrnl_6.1.7601.17514.sys"),
      ],
      { readers, store },
    );
    assert.equal(summary.failed.length, 0, JSON.stringify(summary.failed));
    const ids = store.db.prepare("SELECT id FROM events").pluck().all() as number[];
    all = ids.map((id) => {
      const ev = getEvent(store.db, id)!;
      const flat = flattenFields(ev.fields);
      return {
        rowid: id,
        ev,
        fieldNames: flat.map((f) => f.field.name),
        text: [
          `${ev.provider.name} ${ev.provider.guid}`,
          [ev.name, ev.symbol, ev.task?.name, ev.opcode?.name, ev.mof?.eventTypeName]
            .filter(Boolean)
            .join(" "),
          flat.map((f) => f.path).join(" "),
          ev.keywords.names.join(" "),
          ev.message ?? "",
        ],
        mask: BigInt.asUintN(64, BigInt(ev.keywords.mask)),
      };
    });
    queries = makeQueries(all, random(20261125));
  });

  test("the catalog is varied enough to mean something", () => {
    assert.ok(all.length > 2500, `${all.length} events`);
    const kinds = new Set(all.map((k) => k.ev.kind));
    for (const k of ["manifest", "mof", "tracelogging"]) assert.ok(kinds.has(k as never), k);
    assert.ok(all.some((k) => k.ev.provenance.source === "wevt-template"));
    assert.ok(
      all.some((k) => flattenFields(k.ev.fields).some((f) => f.depth > 0)),
      "nested struct members",
    );
  });

  const check = (label: string) => {
    let nonEmpty = 0;
    for (const q of queries) {
      const expected = oracle(all, q).sort(sqliteNocaseOrder);
      const limit = q.limit ?? 1000;
      const offset = q.offset ?? 0;
      const page = expected.slice(offset, limit < 0 ? undefined : offset + limit).map((k) => k.rowid);
      const rows = searchEvents(store.db, q);
      assert.deepEqual(
        rows.map((r) => r.rowid),
        page,
        `${label}: rows of ${JSON.stringify(q)}`,
      );
      assert.equal(countEvents(store.db, q), expected.length, `${label}: count of ${JSON.stringify(q)}`);
      if (expected.length > 0 && expected.length < all.length) nonEmpty++;
      for (const r of rows.slice(0, 3)) {
        const k = all.find((x) => x.rowid === r.rowid)!;
        assert.equal(r.provider, k.ev.provider.name);
        assert.equal(r.name, k.ev.name);
      }
    }
    // Most random queries select a real subset (neither nothing nor everything).
    assert.ok(nonEmpty > queries.length / 2, `${nonEmpty} of ${queries.length} selective`);
  };

  test("with the search index", () => {
    assert.ok(currentSearchIndex(store.db), "scanPaths leaves a current search index");
    check("index");
  });

  test("with plain SQL (index stale) — same results", () => {
    store.db.prepare("UPDATE meta SET value = value + 1 WHERE key = 'data_generation'").run();
    try {
      assert.equal(currentSearchIndex(store.db), undefined);
      check("sql");
    } finally {
      store.db.prepare("UPDATE meta SET value = value - 1 WHERE key = 'data_generation'").run();
    }
    assert.ok(currentSearchIndex(store.db));
  });

  test("a connection that has not read the index answers exact lookups in SQL — same results", async () => {
    const file = join(tmp, "oracle.db");
    await store.db.backup(file);
    const fresh = CatalogStore.open(file, { readonly: true });
    try {
      const hasGlob = (v?: string) => v !== undefined && /[*?]/.test(v);
      const exact = queries.filter(
        (q) =>
          !q.text &&
          ((q.provider && !hasGlob(q.provider)) ||
            (q.name && !hasGlob(q.name)) ||
            (q.field && !hasGlob(q.field)) ||
            (q.keyword && !/^0x/i.test(q.keyword) && !hasGlob(q.keyword))),
      );
      assert.ok(exact.length >= 10, `${exact.length} exact lookups among the random queries`);
      for (const q of exact) {
        const expected = oracle(all, q).sort(sqliteNocaseOrder);
        const limit = q.limit ?? 1000;
        const offset = q.offset ?? 0;
        const page = expected.slice(offset, limit < 0 ? undefined : offset + limit).map((k) => k.rowid);
        assert.deepEqual(
          searchEvents(fresh.db, q).map((r) => r.rowid),
          page,
          JSON.stringify(q),
        );
        assert.equal(countEvents(fresh.db, q), expected.length, JSON.stringify(q));
      }
      assert.equal(searchIndexRead(fresh.db), false, "exact lookups did not read the index");
      const word = all[0]!.ev.name.slice(0, 4);
      assert.equal(
        countEvents(fresh.db, { text: word }),
        oracle(all, { text: word }).length,
        `full text ${word}`,
      );
      assert.equal(searchIndexRead(fresh.db), true, "full text reads the index");
      // Once read, the index answers exact lookups too.
      for (const q of exact.slice(0, 5))
        assert.equal(countEvents(fresh.db, q), oracle(all, q).length, JSON.stringify(q));
    } finally {
      fresh.close();
    }
  });

  test("removing a file makes the index stale until refreshDerived, then it is current again", () => {
    const path = store.db
      .prepare("SELECT path FROM files WHERE path LIKE '%wmicore.mof'")
      .pluck()
      .get() as string;
    store.removeFile(path);
    assert.equal(currentSearchIndex(store.db), undefined);
    assert.equal(countEvents(store.db, { kind: "mof" }), 0);
    const refreshed = store.refreshDerived();
    assert.equal(refreshed.indexedEvents, all.filter((k) => k.ev.kind !== "mof").length);
    assert.ok(currentSearchIndex(store.db));
    assert.equal(countEvents(store.db, { kind: "mof" }), 0);
    assert.equal(countEvents(store.db, {}), refreshed.indexedEvents);
    assert.deepEqual(store.refreshDerived(), { providerNames: 0, indexedEvents: 0 }, "no-op when current");
  });
});
