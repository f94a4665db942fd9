// The full-text language of search (search-text.ts): parsing, refusals with a message that says
// what is supported, and the same answers from the search index and plain SQL on a catalog.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { countEvents, type EventQuery, searchEvents } from "../../src/catalog/search.js";
import {
  highlightTerms,
  MAX_TEXT_LENGTH,
  parseTextQuery,
  textMatches,
} from "../../src/catalog/search-text.js";
import { CatalogStore } from "../../src/catalog/store.js";
import { event } from "./fake.js";

describe("text query language", () => {
  test("words, patterns, phrases, OR and NOT parse into AND-ed clauses", () => {
    assert.deepEqual(parseTextQuery('pipe proc* "Named  Pipe" a OR b NOT c -d'), [
      { terms: [{ kind: "word", value: "pipe" }], negated: false },
      { terms: [{ kind: "pattern", value: "proc*" }], negated: false },
      { terms: [{ kind: "phrase", value: "named pipe" }], negated: false },
      {
        terms: [
          { kind: "word", value: "a" },
          { kind: "word", value: "b" },
        ],
        negated: false,
      },
      { terms: [{ kind: "word", value: "c" }], negated: true },
      { terms: [{ kind: "word", value: "d" }], negated: true },
    ]);
    assert.deepEqual(highlightTerms(parseTextQuery('proc* "named pipe" NOT x')), ["proc", "named pipe"]);
  });

  test("unsupported syntax and oversized queries are refused with what is supported", () => {
    for (const q of ["a NEAR b", "(a b)", "a AND b", '"open', "a OR", "OR a", "NOT a", "*", "a OR NOT b"])
      assert.throws(() => parseTextQuery(q), /supported|everything|NOT/, q);
    assert.throws(() => parseTextQuery("x".repeat(MAX_TEXT_LENGTH + 1)), /at most 1000/);
    assert.throws(
      () => parseTextQuery(Array.from({ length: 40 }, (_, i) => `w${i}`).join(" ")),
      /more than 32 distinct terms/,
    );
  });

  test("phrases match adjacent words, also joined in identifiers; patterns anchor to a token", () => {
    const q = parseTextQuery('"named pipe"');
    assert.ok(textMatches(q, ["Creates a named  pipe"]));
    assert.ok(textMatches(q, ["PowerShellNamedPipeIPC"]));
    assert.ok(textMatches(q, ["named_pipe"]));
    assert.ok(!textMatches(q, ["pipe named"]));
    assert.ok(!textMatches(q, ["named", "pipe"]), "one column, not across columns");
    assert.ok(textMatches(parseTextQuery("proc*"), ["ProcessStart"]));
    assert.ok(!textMatches(parseTextQuery("proc*"), ["NtProcess"]));
    assert.ok(textMatches(parseTextQuery("proc"), ["NtProcess"]));
  });

  test("index and plain SQL give the same rows for every syntax", () => {
    const store = CatalogStore.open(":memory:");
    store.putResult({ path: "a.man", sha256: "a.man", size: 1 }, "fake", {
      providers: [],
      notes: [],
      events: [
        event({ id: 1, name: "NamedPipeCreate", message: "A named pipe was created" }),
        event({ id: 2, name: "ProcessStart", message: "Process started" }),
        event({ id: 3, name: "ThreadStart", message: "A thread started in a process" }),
        event({ id: 4, name: "MailslotOpen", message: "Mailslot opened" }),
      ],
    });
    const queries: EventQuery[] = [
      { text: '"named pipe"' },
      { text: "proc*" },
      { text: "pipe OR mailslot" },
      { text: "start NOT thread" },
      { text: "start -thread" },
      { text: '"process started" OR mailslot' },
      { text: "started", sort: "name", desc: true },
    ];
    const run = () =>
      queries.map((q) => ({
        rows: searchEvents(store.db, q).map((r) => r.name),
        n: countEvents(store.db, q),
      }));
    const sql = run();
    store.refreshDerived();
    const indexed = run();
    assert.deepEqual(indexed, sql);
    assert.deepEqual(
      indexed.map((r) => r.rows),
      [
        ["NamedPipeCreate"],
        ["ProcessStart", "ThreadStart"],
        ["NamedPipeCreate", "MailslotOpen"],
        ["ProcessStart"],
        ["ProcessStart"],
        ["ProcessStart", "MailslotOpen"],
        ["ThreadStart", "ProcessStart"],
      ],
    );
  });
});
