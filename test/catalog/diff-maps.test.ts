// `diff` reports value/bit maps: a map added or removed, values added, removed or given another
// text. Two small hand-written manifests (one provider, two builds), scanned into two catalogs by the
// real manifest reader and compared through diffStores, the path `etw-atlas diff` takes.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type DiffEntry, diffStores, formatDiffText } from "../../src/catalog/diff.js";
import { diffMaps } from "../../src/catalog/diff-maps.js";
import type { CatalogProvider } from "../../src/catalog/model.js";
import { readWevtFromPe } from "../../src/catalog/readers/wevt.js";
import { CatalogStore } from "../../src/catalog/store.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { readers } from "../../src/pipeline/readers.js";
import { scanPaths } from "../../src/pipeline/scan.js";
import { corpus } from "../helpers/corpus.js";

const tmp = mkdtempSync(join(tmpdir(), "etw-diff-maps-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A manifest whose maps section is `maps` and whose strings are `strings`. */
function manifest(maps: string, strings: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<instrumentationManifest xmlns="http://schemas.microsoft.com/win/2004/08/events"
    xmlns:win="http://manifests.microsoft.com/win/2004/08/windows/events">
  <instrumentation><events>
    <provider name="Maps-Test" guid="{0a1b2c3d-0000-4000-8000-000000000001}" symbol="P"
        resourceFileName="x.dll" messageFileName="x.dll">
      <maps>${maps}</maps>
      <templates>
        <template tid="T"><data name="State" inType="win:UInt32" map="StateMap"/></template>
      </templates>
      <events>
        <event value="1" version="0" symbol="StateChanged" level="win:Informational" template="T"/>
      </events>
    </provider>
  </events></instrumentation>
  <localization><resources culture="en-US"><stringTable>${strings}</stringTable></resources></localization>
</instrumentationManifest>
`;
}

const OLD = manifest(
  `<valueMap name="StateMap">
     <map value="0" message="$(string.s0)"/><map value="1" message="$(string.s1)"/><map value="2" message="$(string.s2)"/>
   </valueMap>
   <bitMap name="OldFlags"><map value="0x1" message="$(string.f1)"/></bitMap>`,
  `<string id="s0" value="Idle"/><string id="s1" value="Running"/><string id="s2" value="Stopped"/>
   <string id="f1" value="Visible"/>`,
);
// Build 2: StateMap value 2 renamed, value 3 added, value 0 removed; OldFlags gone; ModeMap new.
const NEW = manifest(
  `<valueMap name="StateMap">
     <map value="1" message="$(string.s1)"/><map value="2" message="$(string.s2)"/><map value="3" message="$(string.s3)"/>
   </valueMap>
   <valueMap name="ModeMap"><map value="0" message="$(string.m0)"/><map value="1" message="$(string.m1)"/></valueMap>`,
  `<string id="s1" value="Running"/><string id="s2" value="Halted"/><string id="s3" value="Paused"/>
   <string id="m0" value="Normal"/><string id="m1" value="Safe"/>`,
);

function catalog(name: string, xml: string): CatalogStore {
  const dir = join(tmp, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "p.man"), xml);
  const store = CatalogStore.open(join(tmp, `${name}.db`));
  scanPaths([dir], { readers, store });
  return store;
}

const brief = (d: DiffEntry[]) =>
  d
    .filter((e) => e.subject === "map" || e.subject === "map value")
    .map((e) =>
      [e.change, e.subject, e.item, e.mapValue, e.old, e.new].filter((x) => x !== undefined).join(" "),
    )
    .sort();

test("diff: maps added/removed and map values added/removed/changed", () => {
  const a = catalog("old", OLD);
  const b = catalog("new", NEW);
  try {
    const d = diffStores(a, b);
    assert.deepEqual(brief(d), [
      "added map ModeMap",
      "added map value StateMap 3 Paused",
      "changed map value StateMap 2 Stopped Halted",
      "removed map OldFlags",
      "removed map value StateMap 0 Idle",
    ]);
    // The events themselves did not change: only map entries.
    assert.deepEqual(
      d.filter((e) => e.subject !== "map" && e.subject !== "map value"),
      [],
    );
    const text = formatDiffText(d);
    assert.match(text, /value map StateMap value 0x2: Stopped → Halted/);
    assert.match(text, /maps: \+1 -1 ~0; map values: \+1 -1 ~1/);
    assert.deepEqual(brief(diffStores(a, a)), []);
  } finally {
    a.close();
    b.close();
  }
});

test("diff: maps of a source without maps, or values without texts, are not changes", () => {
  const provider = (maps?: CatalogProvider["maps"]): CatalogProvider => ({
    kind: "manifest",
    provider: { name: "P", guid: "0a1b2c3d-0000-4000-8000-000000000001" },
    provenance: { file: "x", source: "manifest-xml" },
    ...(maps ? { maps } : {}),
  });
  const named = provider([{ name: "M", kind: "value", entries: [{ value: 1, message: "One" }] }]);
  // A source that carries no maps (undefined) says nothing about them.
  assert.deepEqual(diffMaps([provider()], [named]), []);
  // A compiled manifest read without its .mui: same values, no texts.
  assert.deepEqual(
    diffMaps([named], [provider([{ name: "M", kind: "value", entries: [{ value: 1 }] }])]),
    [],
  );
  // A map's kind is part of its meaning.
  assert.deepEqual(
    diffMaps(
      [named],
      [provider([{ name: "M", kind: "bitmap", entries: [{ value: 1, message: "One" }] }])],
    ).map((e) => `${e.change} ${e.subject} ${e.old}→${e.new}`),
    ["changed map value→bitmap"],
  );
});

test("diff: a binary's compiled maps against its TDH-rebuilt XML: only the maps TDH could not return", () => {
  const xml = readers.find((r) => r.id === "manifest-xml")!;
  const maps = (binary: string, manifest: string) => {
    const bytes = new Uint8Array(readFileSync(corpus(binary)));
    const compiled = readWevtFromPe(parsePe(bytes), { path: binary, bytes }).providers;
    const m = new Uint8Array(readFileSync(corpus(manifest)));
    const rebuilt = xml.read({ path: manifest, bytes: m, companion: () => undefined }).providers;
    return diffMaps(compiled, rebuilt).map((e) => `${e.change} ${e.subject} ${e.item}`);
  };
  // Every value of the maps both have agrees; the XML lacks whole maps (docs/cli/diff.md).
  assert.deepEqual(
    maps(
      "pe/kernel/win32kbase_10.0.17134.523.sys",
      "manifests/tdh-reconstructed/Win10-17134_Microsoft-Windows-Win32k.xml",
    ),
    ["removed map ConcurrencyAction", "removed map IdleActionType", "removed map TokenState"],
  );
  assert.deepEqual(
    maps(
      "pe/kernel/win32k_6.1.7601.17514.sys",
      "manifests/tdh-reconstructed/Win7-7600_Microsoft-Windows-Win32k.xml",
    ),
    ["removed map ConcurrencyAction"],
  );
});
