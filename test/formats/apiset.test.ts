import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  isApiSetName,
  parseApiSetSchema,
  readApiSetSchema,
  resolveApiSet,
} from "../../src/formats/apiset/index.js";
import { parsePe, readDelayImports, readImports } from "../../src/formats/pe/index.js";
import { FormatError } from "../../src/util/errors.js";
import { buildApiSetSchema, type SyntheticContract } from "../helpers/apiset-builder.js";
import { corpus } from "../helpers/corpus.js";

const SAMPLE = "builds/10.0.14393-sample";

test("apiset: the real 14393 apisetschema.dll is schema v6 and every entry name is UTF-16 text of the section", () => {
  const pe = parsePe(readFileSync(corpus(`${SAMPLE}/apisetschema.dll`)));
  const schema = readApiSetSchema(pe);
  assert.ok(schema);
  assert.equal(schema.version, 6);
  const section = pe.sectionBytes(pe.sections.find((s) => s.name === ".apiset")!);
  // The header's own count (offset 12), read independently of the parser.
  assert.equal(schema.entries.length, new DataView(section.buffer, section.byteOffset).getUint32(12, true));
  const text = new TextDecoder("utf-16le").decode(section).toLowerCase();
  for (const e of schema.entries) {
    assert.ok(text.includes(e.name), e.name);
    assert.ok(/^(api|ext)-ms-/.test(e.name), e.name);
    assert.ok(e.hashedLength > 0 && e.hashedLength <= e.name.length, e.name);
    for (const h of e.hosts) if (h.host) assert.ok(text.includes(h.host), h.host);
  }
  assert.equal(resolveApiSet(schema, "api-ms-win-appmodel-identity-l1-2-0.dll"), "kernel.appcore.dll");
});

test("apiset: every api-ms/ext-ms import of the 14393 sample DLLs resolves through that build's schema", () => {
  const schema = readApiSetSchema(parsePe(readFileSync(corpus(`${SAMPLE}/apisetschema.dll`))))!;
  let contracts = 0;
  const unresolved: string[] = [];
  for (const f of ["dxva2.dll", "fhsvc.dll", "qwave.dll", "sdiagschd.dll", "userenv.dll", "vsstrace.dll"]) {
    const pe = parsePe(readFileSync(corpus(`${SAMPLE}/${f}`)));
    for (const d of [...readImports(pe), ...readDelayImports(pe)]) {
      if (!isApiSetName(d.dll)) continue;
      contracts++;
      const host = resolveApiSet(schema, d.dll, f);
      if (!host?.endsWith(".dll")) unresolved.push(`${f}: ${d.dll}`);
    }
  }
  assert.ok(contracts > 50, `only ${contracts} contract imports`);
  // ext-ms-* contracts may have no host in a build; api-ms-* ones always have one.
  assert.deepEqual(
    unresolved.filter((u) => u.includes(": api-")),
    [],
  );
});

const contracts: SyntheticContract[] = [
  { name: "api-ms-win-core-file-l1-2-0", hosts: [{ host: "kernelbase.dll" }] },
  {
    name: "api-ms-win-core-synch-l1-1-0",
    hosts: [{ host: "kernelbase.dll" }, { importer: "kernel32.dll", host: "ntdll.dll" }],
  },
  { name: "ext-ms-win-gdi-draw-l1-1-1", hosts: [{ host: "" }] },
];

for (const version of [2, 4, 6] as const) {
  test(`apiset: synthetic schema v${version} — names, default host, importer exception, version-insensitive lookup`, () => {
    const schema = parseApiSetSchema(buildApiSetSchema(version, contracts));
    assert.equal(schema.version, version);
    assert.deepEqual(
      schema.entries.map((e) => e.name),
      contracts.map((c) => c.name),
    );
    assert.equal(resolveApiSet(schema, "API-MS-Win-Core-File-L1-2-0.dll"), "kernelbase.dll");
    // The minor version after the last hyphen does not take part in the lookup.
    assert.equal(resolveApiSet(schema, "api-ms-win-core-file-l1-2-5.dll"), "kernelbase.dll");
    assert.equal(resolveApiSet(schema, "api-ms-win-core-synch-l1-1-0.dll", "user32.dll"), "kernelbase.dll");
    assert.equal(resolveApiSet(schema, "api-ms-win-core-synch-l1-1-0.dll", "KERNEL32.DLL"), "ntdll.dll");
    assert.equal(resolveApiSet(schema, "api-ms-win-core-nothere-l1-1-0.dll"), undefined);
  });
}

test("apiset: bad bytes give a FormatError naming what is wrong", () => {
  assert.throws(() => parseApiSetSchema(new Uint8Array([5, 0, 0, 0])), /apiset: unknown schema version 5/);
  const good = buildApiSetSchema(6, contracts);
  for (let cut = 0; cut < good.length; cut += 7)
    assert.throws(
      () => parseApiSetSchema(good.subarray(0, cut)),
      (e: unknown) => e instanceof FormatError,
    );
  const huge = good.slice();
  new DataView(huge.buffer).setUint32(12, 0x7fffffff, true);
  assert.throws(() => parseApiSetSchema(huge), /implausible entry count/);
});
