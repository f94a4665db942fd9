import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { CatalogEvent } from "../src/catalog/model.js";
import { pdbWppReader, tmfTextReader } from "../src/catalog/readers/wpp.js";
import { itemTypeToField } from "../src/catalog/readers/wpp-events.js";
import { parsePdb } from "../src/formats/pdb/index.js";
import {
  groupByMessageGuid,
  parseArgumentLine,
  parseTmfText,
  parseTypevLine,
  parseWppAnnotation,
  type TmfMessage,
  wppFromPdb,
  writeTmfText,
} from "../src/formats/wpp/index.js";
import { FormatError } from "../src/util/errors.js";
import { corpus, fixture, repoRoot } from "./helpers/corpus.js";
import { fuzz } from "./helpers/mutate.js";

/** Every `__annotation(L"...", ...)` call of a C file, as the list of its (unescaped) strings. */
function annotationsInC(file: string): string[][] {
  const src = readFileSync(join(repoRoot, "fixtures-src", file), "utf8");
  const out: string[][] = [];
  for (const call of src.matchAll(/__annotation\(((?:\s*L"(?:[^"\\]|\\.)*"\s*,?)+)\);/g)) {
    const strings = [...call[1]!.matchAll(/L"((?:[^"\\]|\\.)*)"/g)].map((m) =>
      m[1]!.replace(/\\(.)/g, (_, c: string) => c),
    );
    out.push(strings);
  }
  return out;
}

/** What the C source says about one TMF message, read with plain string operations. */
function expectedFromC(strings: string[]) {
  const [guid, component] = strings[1]!.split(" ");
  const typev = strings[2]!;
  const words = typev.split(" ");
  const format = typev.slice(typev.indexOf('"') + 1, typev.lastIndexOf('"'));
  const comment = typev.slice(typev.lastIndexOf("//") + 2);
  const kv = Object.fromEntries(
    comment
      .trim()
      .split(/\s+/)
      .map((w) => w.split("=") as [string, string]),
  );
  const args = strings.slice(strings.indexOf("{") + 1, strings.indexOf("}")).map((line) => {
    const dash = line.lastIndexOf(" -- ");
    const comma = line.lastIndexOf(", Item");
    const type = line.slice(comma + 2, dash);
    return {
      name: line.slice(0, comma),
      itemType: type.replace(/\(.*$/, ""),
      argNo: Number(line.slice(dash + 4)),
    };
  });
  return {
    guid: guid!,
    component: component!,
    name: words[1]!,
    id: Number(words[2]),
    format,
    level: kv.LEVEL,
    flags: kv.FLAGS,
    func: kv.FUNC,
    args,
    isPublic: strings[strings.length - 1] === "PUBLIC_TMF:",
  };
}

const builds = [
  { source: "wpp_driver.c", pdb: "wpp_driver.pdb" },
  { source: "wpp_user.c", pdb: "wpp_user.pdb" },
];

/** Annotation string lists printed by llvm-pdbutil (independent oracle). */
function oracleAnnotations(pdbPath: string): string[][] {
  const text = execFileSync("llvm-pdbutil-14", ["dump", "--symbols", pdbPath], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  const out: string[][] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!/\| S_ANNOTATION /.test(lines[i]!)) continue;
    while (!lines[i]!.includes("strings = [")) i++;
    const strings: string[] = [];
    for (i++; ; i++) {
      const s = lines[i]!.trim();
      if (s.endsWith("]")) {
        strings.push(s.slice(0, -1));
        break;
      }
      strings.push(s);
    }
    out.push(strings);
  }
  return out;
}

const key = (s: string[]) => s.join("\u0001");

describe("WPP from PDB annotations (fixtures built from fixtures-src)", () => {
  for (const b of builds) {
    const pdbPath = fixture(b.pdb);
    const pdb = parsePdb(new Uint8Array(readFileSync(pdbPath)));
    const fromC = annotationsInC(b.source);

    it(`${b.pdb}: S_ANNOTATION strings equal the C source's __annotation calls and llvm-pdbutil's dump`, () => {
      assert.ok(fromC.length >= 3);
      const ours = pdb.annotations().map((a) => a.strings);
      assert.deepEqual(ours.map(key).sort(), fromC.map(key).sort());
      assert.deepEqual(oracleAnnotations(pdbPath).map(key).sort(), ours.map(key).sort());
    });

    it(`${b.pdb}: catalog rows carry exactly the messages written in ${b.source}`, () => {
      const controls = fromC.filter((s) => s[0] === "TMC:");
      const tmfs = fromC.filter((s) => s[0] === "TMF:").map(expectedFromC);
      const result = pdbWppReader.read({ path: pdbPath, bytes: new Uint8Array(readFileSync(pdbPath)) });
      assert.deepEqual(result.notes, []);
      assert.deepEqual(
        result.providers.map((p) => [p.provider.guid, p.provider.name, p.keywords?.map((k) => k.name)]),
        controls.map((c) => [c[1], c[2], c.slice(3)]),
      );
      assert.equal(result.events.length, tmfs.length);
      const byId = new Map(result.events.map((e) => [`${e.wpp?.messageGuid}#${e.id}`, e]));
      for (const t of tmfs) {
        const e = byId.get(`${t.guid}#${t.id}`);
        assert.ok(e, `message ${t.guid}#${t.id}`);
        assert.equal(e.kind, "wpp");
        assert.equal(e.name, t.name);
        assert.equal(e.message, t.format);
        assert.equal(e.wpp?.component, t.component);
        assert.equal(e.wpp?.function, t.func);
        assert.equal(e.wpp?.level, t.level);
        assert.equal(e.wpp?.flags, t.flags);
        assert.equal(e.wpp?.sourceFile, b.source);
        const owner = controls.find((c) => c.slice(3).includes(t.flags!));
        assert.ok(owner, `a TMC defines ${t.flags}`);
        assert.deepEqual([e.provider.guid, e.provider.name], [owner[1], owner[2]]);
        assert.equal(e.keywords.mask, `0x${(1 << owner.slice(3).indexOf(t.flags!)).toString(16)}`);
        assert.deepEqual(
          e.fields.map((f) => [f.name, f.extra?.itemType, f.extra?.argNo, f.inType]),
          t.args.map((a) => [a.name, a.itemType, a.argNo, itemTypeToField(a.itemType).inType]),
        );
        assert.ok(
          e.fields.every((f) => f.inType.startsWith("win:")),
          "every fixture item type is mapped",
        );
      }
    });

    it(`${b.pdb}: each message's call-site RVA lies inside the function named by FUNC=`, () => {
      const meta = wppFromPdb(pdb);
      const procs = pdb.procedures();
      for (const m of meta.messages) {
        const p = procs.find((x) => x.name === m.function);
        assert.ok(p && p.rva !== undefined && m.rva !== undefined, `${m.name}: ${m.function}`);
        assert.ok(
          m.rva >= p.rva && m.rva < p.rva + p.size,
          `${m.name} at 0x${m.rva.toString(16)} in ${p.name}`,
        );
        assert.equal(m.procedure, m.function);
      }
    });

    it(`${b.pdb}: .tmf files written from the annotations round-trip through the tmf-text reader`, () => {
      const meta = wppFromPdb(pdb);
      const pdbEvents = pdbWppReader.read({
        path: pdbPath,
        bytes: new Uint8Array(readFileSync(pdbPath)),
      }).events;
      const strip = ({
        rva: _r,
        procedure: _p,
        public: _pub,
        ...m
      }: TmfMessage & { rva?: number; procedure?: string }) => m;
      let total = 0;
      for (const [guid, msgs] of groupByMessageGuid(meta.messages)) {
        const text = writeTmfText(msgs, { pdbName: b.pdb, now: new Date(0) });
        assert.ok(text.startsWith(`// PDB:  ${b.pdb}\n`));
        const bytes = new TextEncoder().encode(text);
        assert.equal(tmfTextReader.sniff(bytes, `${guid}.tmf`), "yes");
        assert.equal(pdbWppReader.sniff(bytes, `${guid}.tmf`), "no");
        const back = parseTmfText(text);
        assert.deepEqual(
          back,
          msgs.map(strip).sort((x, y) => x.messageNumber - y.messageNumber),
        );
        const rows = tmfTextReader.read({ path: `${guid}.tmf`, bytes }).events;
        for (const r of rows) {
          const p = pdbEvents.find((e) => e.wpp?.messageGuid === guid && e.id === r.id) as CatalogEvent;
          // Without the TMC the provider is the component; everything else is identical.
          assert.deepEqual(r.provider, { name: p.wpp?.component, guid: "" });
          assert.deepEqual([r.name, r.message, r.fields, r.level], [p.name, p.message, p.fields, p.level]);
        }
        total += rows.length;
      }
      assert.equal(total, meta.messages.length);
    });
  }

  it("marks PUBLIC_TMF: messages public", () => {
    const meta = wppFromPdb(parsePdb(new Uint8Array(readFileSync(fixture("wpp_driver.pdb")))));
    const expected = annotationsInC("wpp_driver.c")
      .filter((s) => s[0] === "TMF:")
      .map(expectedFromC)
      .filter((t) => t.isPublic)
      .map((t) => t.id);
    assert.ok(expected.length > 0);
    assert.deepEqual(
      meta.messages.filter((m) => m.public).map((m) => m.messageNumber),
      expected,
    );
  });

  it("survives PDBs with mutated annotation records: FormatErrors or notes, never a crash", () => {
    const bytes = new Uint8Array(readFileSync(fixture("wpp_driver.pdb")));
    // Aim the edits at the S_ANNOTATION records (each starts 12 bytes before its "TMF:"/"TMC:" string).
    const hot: Array<{ start: number; end: number }> = [];
    const text = Buffer.from(bytes).toString("latin1");
    for (let i = text.indexOf("TM"); i >= 0; i = text.indexOf("TM", i + 1))
      if (text[i + 3] === ":" && (text[i + 2] === "F" || text[i + 2] === "C"))
        hot.push({ start: i - 12, end: i + 300 });
    assert.ok(hot.length >= 7);
    const failures = fuzz({
      inputs: [{ name: "wpp_driver.pdb", bytes, hot }],
      count: 1500,
      seed: 5,
      targets: { reader: (b) => pdbWppReader.read({ path: "m.pdb", bytes: b }) },
      isExpected: (e) => e instanceof FormatError,
      options: { hotBias: 0.95, truncateChance: 0.05 },
    });
    assert.deepEqual(failures, []);
  });

  it("MSVC PDBs with non-WPP annotations (NT_ASSERT) yield no WPP rows and no notes", () => {
    for (const name of ["AzPshedPi_x64.pdb", "AzPshedPi_arm64.pdb"]) {
      const path = corpus(`pdb-pairs/${name}`);
      const meta = wppFromPdb(parsePdb(new Uint8Array(readFileSync(path))));
      assert.equal(meta.annotations, oracleAnnotations(path).length);
      assert.ok(meta.annotations > 0);
      assert.deepEqual([meta.messages.length, meta.controls.length, meta.notes], [0, 0, []]);
    }
  });
});

describe("TMF text and annotation parsing", () => {
  it("splits argument lines whose expression holds commas and whose type holds a list", () => {
    assert.deepEqual(parseArgumentLine("Fn(a, b), ItemNTSTATUS -- 10"), {
      name: "Fn(a, b)",
      itemType: "ItemNTSTATUS",
      argNo: 10,
    });
    assert.deepEqual(parseArgumentLine("s, ItemListLong(A,B,C) -- 11"), {
      name: "s",
      itemType: "ItemListLong",
      itemArgs: "A,B,C",
      argNo: 11,
    });
  });

  it("keeps quotes inside the format and reads comment attributes with empty values", () => {
    const t = parseTypevLine(
      '#typev f_c1 10 "%0 say \\"%10!s!\\" now" //   LEVEL=TRACE_LEVEL_ERROR FLAGS= FUNC=a::b',
    );
    assert.equal(t.format, '%0 say \\"%10!s!\\" now');
    assert.equal(t.level, "TRACE_LEVEL_ERROR");
    assert.equal(t.flags, undefined);
    assert.equal(t.function, "a::b");
    assert.deepEqual(t.attributes, [
      ["LEVEL", "TRACE_LEVEL_ERROR"],
      ["FLAGS", ""],
      ["FUNC", "a::b"],
    ]);
  });

  it("reads a tracepdb-style .tmf with several messages, comments and an unknown directive", () => {
    const text = [
      "// PDB:  BthPS3.pdb",
      "01e9b841-7d67-315a-7b92-23b2033356de BthPS3 // SRC=L2CAP.c MJ= MN=",
      '#typev L2CAP_c130 14 "%0 [%!FUNC!] failed %10!s!" //   LEVEL=TRACE_LEVEL_ERROR FLAGS=TRACE_L2CAP FUNC=Ctl',
      "{",
      "status, ItemNTSTATUS -- 10",
      "}",
      "#enumv SOME_ENUM 3",
      "{",
      "A, 1",
      "}",
      '#typev L2CAP_c140 15 "%0 plain" //   LEVEL=TRACE_LEVEL_VERBOSE FLAGS=TRACE_L2CAP FUNC=Ctl',
      "{",
      "}",
      "",
    ].join("\r\n");
    const msgs = parseTmfText(text);
    assert.deepEqual(
      msgs.map((m) => [m.messageGuid, m.component, m.sourceFile, m.messageNumber, m.args.length]),
      [
        ["01e9b841-7d67-315a-7b92-23b2033356de", "BthPS3", "L2CAP.c", 14, 1],
        ["01e9b841-7d67-315a-7b92-23b2033356de", "BthPS3", "L2CAP.c", 15, 0],
      ],
    );
    const rows = tmfTextReader.read({ path: "x.tmf", bytes: new TextEncoder().encode(text) });
    assert.deepEqual(rows.events[0]!.fields[0], {
      name: "status",
      inType: "win:UInt32",
      outType: "win:NTSTATUS",
      extra: { itemType: "ItemNTSTATUS", argNo: 10 },
    });
    assert.equal(rows.events[0]!.level?.value, 2);
  });

  it("maps unknown item types to wpp:<type> instead of guessing", () => {
    assert.deepEqual(itemTypeToField("ItemMadeUp"), { inType: "wpp:ItemMadeUp" });
    assert.deepEqual(itemTypeToField("ItemGuid"), { inType: "win:GUID" });
  });

  it("ignores non-WPP annotations and names what is wrong in broken ones", () => {
    assert.equal(parseWppAnnotation(["Debug", "AssertFail", "x"]), undefined);
    assert.throws(() => parseWppAnnotation(["TMC:", "nope", "Name"]), /not a control GUID/);
    assert.throws(() => parseWppAnnotation(["TMF:", "garbage line"]), /expected "<GUID> <component>/);
    assert.throws(
      () =>
        parseWppAnnotation([
          "TMF:",
          "01e9b841-7d67-315a-7b92-23b2033356de C // SRC=a.c",
          '#typev x 1 "f"',
          "{",
          "a ItemLong 10",
          "}",
        ]),
      /expected "<expr>, <ItemType> -- <n>"/,
    );
    assert.throws(
      () => parseWppAnnotation(["TMF:", "01e9b841-7d67-315a-7b92-23b2033356de C", '#typev x 99999 "f"']),
      /exceeds 16 bits/,
    );
    assert.throws(
      () =>
        parseWppAnnotation([
          "TMF:",
          "01e9b841-7d67-315a-7b92-23b2033356de C",
          '#typev x 1 "f"',
          "{",
          "a, ItemLong -- 10",
        ]),
      /no closing/,
    );
  });

  it("survives mutated .tmf text with FormatErrors only", () => {
    const meta = wppFromPdb(parsePdb(new Uint8Array(readFileSync(fixture("wpp_driver.pdb")))));
    const text = writeTmfText(meta.messages);
    const failures = fuzz({
      inputs: [{ name: "driver.tmf", bytes: new TextEncoder().encode(text) }],
      count: 3000,
      seed: 11,
      targets: { tmf: (b) => parseTmfText(new TextDecoder().decode(b)) },
      isExpected: (e) => e instanceof FormatError,
    });
    assert.deepEqual(failures, []);
  });
});
