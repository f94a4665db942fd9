// TraceLogging provider association that needs more than a load of the struct's handle slot:
// the provider's address kept in r11/r10 across calls that provably leave the register alone, and
// providers reached through singleton getters (RAX = &provider, a lazily set global, an object
// field, a global assigned a getter's result). Fixture tracelogging_providers.dll (five providers,
// so only the code says which provider writes which event); expectations written by hand.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { analyzeProgram, symbolsFromPdb } from "../../src/analysis/analyze.js";
import { functionAt, functionName } from "../../src/analysis/functions.js";
import { loadProgram } from "../../src/analysis/program.js";
import {
  providersByEventBlob,
  traceLoggingInfo,
  traceLoggingRecognizer,
} from "../../src/analysis/recognizers/tracelogging.js";
import { traceLoggingProvidersFromSites } from "../../src/analysis/tracelogging-providers.js";
import { diffEvents } from "../../src/catalog/diff.js";
import { traceLoggingToCatalog } from "../../src/catalog/readers/tracelogging.js";
import { parsePdb } from "../../src/formats/pdb/index.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { traceLoggingWithCode } from "../../src/pipeline/readers.js";
import { fixture, repoRoot } from "../helpers/corpus.js";

interface Expected {
  providers: Record<string, string>;
  events: Record<string, { provider: string | null; function: string } | null>;
}
const expected = JSON.parse(
  readFileSync(join(repoRoot, "fixtures-src", "tracelogging_providers.expected.json"), "utf8"),
) as Expected;

function load(withPdb: boolean) {
  const pe = parsePe(new Uint8Array(readFileSync(fixture("tracelogging_providers.dll"))));
  const symbols = withPdb
    ? symbolsFromPdb(parsePdb(new Uint8Array(readFileSync(fixture("tracelogging_providers.pdb")))))
    : undefined;
  return loadProgram(pe, { symbols });
}

for (const withPdb of [true, false]) {
  test(`tracelogging_providers (${withPdb ? "PDB" : "exports only"}): registers across calls and getters tie each event to its provider`, () => {
    const program = load(withPdb);
    const info = traceLoggingInfo(program.pe);
    assert.deepEqual(Object.fromEntries(info.providers.map((p) => [p.name, p.guid])), expected.providers);
    const blobName = new Map(info.events.map((e) => [e.blobRva, e.name]));
    const providerName = new Map(info.providers.map((p) => [p.blobRva, p.name]));
    const findings = traceLoggingRecognizer.find(program.context);
    const got = new Map<string, Set<string | null>>();
    for (const f of findings) {
      if (f.event.kind !== "tracelogging") continue;
      const name = blobName.get(f.event.eventBlobRva ?? -1);
      assert.ok(name, `finding at 0x${f.rva.toString(16)} names an event blob`);
      const want = expected.events[name];
      assert.ok(want, `${name} is written somewhere`);
      const fn = functionAt(program.functions, f.rva);
      assert.equal(fn && functionName(fn), want.function, `${name}: site function`);
      const set = got.get(name) ?? new Set();
      set.add(providerName.get(f.event.providerBlobRva ?? -1) ?? null);
      got.set(name, set);
    }
    for (const [name, want] of Object.entries(expected.events)) {
      if (!want) assert.ok(!got.has(name), `${name} has no site`);
      // One provider, or none where the code does not prove one (a callee writing r11, an import).
      else assert.deepEqual([...(got.get(name) ?? [])], [want.provider], `${name}: provider`);
    }
    // The share `scan` reports: blobs tied to exactly one provider.
    const byBlob = providersByEventBlob(findings);
    const tied = info.events.filter((e) => byBlob.get(e.blobRva)?.size === 1).length;
    const tiedExpected = Object.values(expected.events).filter((e) => e?.provider).length;
    assert.equal(tied, tiedExpected);
    // No other recognizer claims these writes (the image has no manifest provider).
    assert.deepEqual([...new Set(analyzeProgram(program).rows.map((r) => r.event.kind))], ["tracelogging"]);
  });
}

test("tracelogging_providers: catalog rows take each event's provider from the code", () => {
  const bytes = new Uint8Array(readFileSync(fixture("tracelogging_providers.dll")));
  const cat = traceLoggingWithCode.extract(parsePe(bytes), { path: "tracelogging_providers.dll", bytes });
  assert.equal(cat.events.length, Object.keys(expected.events).length);
  for (const e of cat.events) {
    const want = expected.events[e.name]?.provider ?? null;
    assert.equal(e.provider.name || null, want, `${e.name}: provider`);
    assert.equal(e.provider.guid || null, want ? expected.providers[want] : null, `${e.name}: GUID`);
    if (want) assert.equal(e.tracelogging?.providerFrom, "code", `${e.name}: tied by the code`);
  }
});

test("tracelogging_providers: two builds whose code ties fewer events diff clean (identity without the code's provider)", () => {
  const file = fixture("tracelogging_providers.dll");
  const pe = parsePe(new Uint8Array(readFileSync(file)));
  const info = traceLoggingInfo(pe);
  const { byBlob } = traceLoggingProvidersFromSites(pe);
  assert.ok(byBlob);
  // The other build: only the provider in a register across a leaf is tied (as before the rules).
  const leafOnly = new Map(
    [...byBlob].filter(([blob]) => info.events.find((e) => e.blobRva === blob)?.name === "RegLeaf"),
  );
  assert.equal(leafOnly.size, 1);
  const all = traceLoggingToCatalog(info, file, undefined, byBlob).events;
  const fewer = traceLoggingToCatalog(info, file, undefined, leafOnly).events;
  assert.notDeepEqual(
    all.map((e) => e.provider.name),
    fewer.map((e) => e.provider.name),
  );
  assert.deepEqual(diffEvents(fewer, all), []);
  assert.deepEqual(diffEvents(all, fewer), []);
});
