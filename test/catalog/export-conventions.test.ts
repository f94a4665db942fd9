// Windows10EtwEvents-layout conventions seen in the 26H1 files: the opcode column without the
// `Task:` prefix of task-scoped opcodes (Microsoft-Windows-Audio: `MMDevAPI:Defaultdevicechangedtriggered`
// → `Defaultdevicechangedtriggered`), no unresolved `$(string.X)` message (Kernel-General); and the
// well-known TraceLogging keyword bits named in the catalog (d3d11: 15 of 15 events tagged).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { formatManifestRowW10 } from "../../src/catalog/format-w10.js";
import { wellKnownKeywordNames } from "../../src/catalog/readers/tracelogging.js";
import { readers } from "../../src/pipeline/readers.js";
import { corpus } from "../helpers/corpus.js";
import { event } from "./fake.js";

test("W10 TSV: opcode without its task prefix, unresolved $(string.X) message empty", () => {
  const ev = event({
    id: 58,
    name: "AudioCore_EVT_MMDevAPIMMDevAPI:Defaultdevicechangedtriggered",
    opcode: { value: 10, name: "MMDevAPI:Defaultdevicechangedtriggered" },
    message: "$(string.Microsoft-Windows-Kernel-General.event.1.message)",
  });
  const row = formatManifestRowW10(ev);
  assert.equal(row[4], "Defaultdevicechangedtriggered");
  assert.equal(row[3], "AudioCore_EVT_MMDevAPIMMDevAPI:Defaultdevicechangedtriggered()");
  assert.equal(row[9], "");
  // The reference file writes exactly that opcode cell for event 58.
  const ref = readFileSync(
    corpus("peer-outputs/windows10etwevents/26H1/manifest/Microsoft-Windows-Audio.tsv"),
    "utf8",
  )
    .split("\n")
    .find((l) => l.split("\t")[1] === "58")!
    .split("\t");
  assert.equal(ref[4], row[4]);
  assert.equal(formatManifestRowW10(event({ id: 1, name: "A", message: "Started %1" }))[9], "Started %1");
});

test("TraceLogging: telemetry, measures and critical-data keyword bits are named (d3d11 10.0.18363)", () => {
  assert.deepEqual(wellKnownKeywordNames(0x0000600000000001n), [
    "MICROSOFT_KEYWORD_TELEMETRY",
    "MICROSOFT_KEYWORD_MEASURES",
  ]);
  assert.deepEqual(wellKnownKeywordNames(0x1n), []);
  const path = corpus("pe/user/d3d11_10.0.18363.900.dll");
  const pe = readers.find((r) => r.id === "pe")!;
  const events = pe
    .read({ path, bytes: new Uint8Array(readFileSync(path)), companion: () => undefined })
    .events.filter((e) => e.kind === "tracelogging");
  assert.ok(events.length >= 15);
  for (const e of events) {
    const k = BigInt(e.keywords.mask);
    assert.equal(e.keywords.names.includes("MICROSOFT_KEYWORD_MEASURES"), (k & 0x0000400000000000n) !== 0n);
    assert.equal(e.keywords.names.includes("MICROSOFT_KEYWORD_TELEMETRY"), (k & 0x0000200000000000n) !== 0n);
  }
  assert.ok(
    events.some((e) => e.keywords.names.length > 0),
    "d3d11 tags its events",
  );
});
