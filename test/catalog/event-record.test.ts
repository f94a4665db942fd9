// Events are stored once (columns + event_fields + detail_json, schema 4): what comes back must be
// deep-equal to what the readers produced, for every source kind and for the shapes columns lose.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { CatalogEvent } from "../../src/catalog/model.js";
import { getEvent } from "../../src/catalog/search.js";
import { CatalogStore } from "../../src/catalog/store.js";
import { readers } from "../../src/pipeline/readers.js";
import { prepareFile, scannerSignature } from "../../src/pipeline/scan.js";
import { corpus } from "../helpers/corpus.js";
import { event, f } from "./fake.js";

/** What JSON keeps of a record (undefined-valued keys vanish, as they always did). */
const plain = (ev: CatalogEvent) => JSON.parse(JSON.stringify(ev)) as CatalogEvent;

describe("stored event records", () => {
  test("shapes the columns cannot hold survive: number vs text counts, odd keywords, extras", () => {
    const tricky: CatalogEvent[] = [
      event({
        id: 7,
        name: "Odd",
        symbol: "",
        message: "",
        level: { value: 4, message: "Information" },
        channel: { value: 16, name: "" },
        keywords: { mask: "0x3", names: ["two words", ""] },
        fields: [
          f("Count", "win:UInt32"),
          f("Items", "win:Struct", {
            count: "Count",
            fields: [
              f("A", "win:UInt8", { length: 4 }),
              f("B", "win:Struct", { fields: [f("C", "win:Int8")] }),
            ],
          }),
          f("Fixed", "win:UInt16", { count: 3, length: "7" }),
          f("Empty", "win:Struct", { fields: [] }),
          f("Tagged", "win:UInt32", { tags: 5, extra: { qualifier: "x", flag: true } }),
        ],
        provenance: { file: "elsewhere/x.man", source: "manifest-xml", build: "10.0.1", offset: 12 },
        mof: { className: "C", category: "Cat", eventTypeName: "Start", classGuid: "g" },
      }),
      event({ id: 8, name: "Plain", provider: { name: "P", guid: "", symbol: "S", guidFromName: false } }),
    ];
    const store = CatalogStore.open(":memory:");
    store.putResult({ path: "a.man", sha256: "0", size: 1 }, "fake", {
      providers: [],
      events: tricky,
      notes: [],
    });
    const back = [...store.events()];
    assert.deepEqual(back, tricky.map(plain));
    // Text a query reads comes from the columns: the MOF event type name is searchable.
    const text = store.db.prepare("SELECT name FROM v_event_text WHERE rowid = 1").pluck().get();
    assert.equal(text, "Odd Start");
    store.close();
  });

  test("every record of real files of each source kind comes back deep-equal", () => {
    const files = [
      "manifests/dxcetw.man",
      "mof/wmicore.mof",
      "pe/user/OpenConsole.exe",
      "pe/kernel/win32k_6.1.7601.17514.sys",
      "pe/user/ipnathlp.dll",
    ].map(corpus);
    const store = CatalogStore.open(":memory:");
    const scanner = scannerSignature(readers);
    let total = 0;
    for (const path of files) {
      const p = prepareFile(path, undefined, { readers, scanner });
      assert.equal(p.kind, "read", path);
      if (p.kind !== "read") continue;
      store.putResult(p.info, p.reader, p.result);
      const ids = store.db
        .prepare(
          "SELECT e.id FROM events e JOIN files fl ON fl.id = e.file_id WHERE fl.path = ? ORDER BY e.id",
        )
        .pluck()
        .all(path) as number[];
      assert.equal(ids.length, p.result.events.length, path);
      for (const [i, id] of ids.entries())
        assert.deepEqual(getEvent(store.db, id), plain(p.result.events[i]!), `${path} #${i}`);
      total += ids.length;
    }
    assert.ok(total > 500, `${total} events compared`);
    store.close();
  });
});
