import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { analyzeImage, type SiteRow, symbolsFromPdb } from "../../src/analysis/analyze.js";
import type { Condition } from "../../src/analysis/conditions/chain.js";
import { parsePdb } from "../../src/formats/pdb/index.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { fixture, repoRoot } from "../helpers/corpus.js";

type Expected = Record<string, string | number | boolean>;
interface ExpectedSite {
  entry: string;
  event: number;
  logged: string;
  conditions: Expected[];
  withoutPdb?: { logged: string; conditions: Expected[] };
}
const expected = JSON.parse(
  readFileSync(join(repoRoot, "fixtures-src", "conditions.expected.json"), "utf8"),
) as { sites: ExpectedSite[] };

function analyze(withPdb: boolean, conditions = true): SiteRow[] {
  const pe = parsePe(new Uint8Array(readFileSync(fixture("conditions.sys"))));
  const symbols = withPdb
    ? symbolsFromPdb(parsePdb(new Uint8Array(readFileSync(fixture("conditions.pdb")))))
    : undefined;
  return analyzeImage(pe, { symbols, conditions }).rows;
}

/** Does condition c have every field the expectation states (`…Pdb` fields only with the PDB)? */
function fits(c: Condition, e: Expected, withPdb: boolean): boolean {
  for (const [k, v] of Object.entries(e)) {
    if (k.endsWith("Pdb")) {
      if (!withPdb) continue;
      const field = k.slice(0, -3);
      const actual =
        field === "flagSymbol" ? c.flag?.symbol : (c as unknown as Record<string, unknown>)[field];
      if (actual !== v) return false;
    } else if ((c as unknown as Record<string, unknown>)[k] !== v) return false;
  }
  return true;
}

for (const withPdb of [true, false]) {
  test(`conditions fixture ${withPdb ? "with" : "without"} PDB: every expected condition, no extra classified one`, () => {
    const rows = analyze(withPdb);
    for (const site of expected.sites) {
      const want = (!withPdb && site.withoutPdb) || site;
      const matching = rows.filter((r) => r.entry === site.entry && r.event.id === site.event);
      assert.ok(matching.length > 0, `${site.entry}: no row for event ${site.event}`);
      for (const row of matching) {
        const classified = (row.conditions ?? []).filter((c) => c.class !== "other");
        const where = `${site.entry} event ${site.event}: ${JSON.stringify(classified)}`;
        for (const e of want.conditions)
          assert.ok(
            classified.some((c) => fits(c, e, withPdb)),
            `${where}: missing ${JSON.stringify(e)}`,
          );
        assert.equal(classified.length, want.conditions.length, `${where}: extra classified conditions`);
        assert.equal(row.logged, want.logged, `${where}: logged`);
      }
    }
  });
}

test("conditions fixture: the nested guard in the caller is on the chain, loop back edges are not", () => {
  const rows = analyze(true);
  const nested = rows.find((r) => r.entry === "NtCondNested" && r.event.id === 7)!;
  // `if (value > 10) CondNestedInner(value)`: a parameter compare, kept as `other` in the caller.
  assert.ok(nested.conditions!.some((c) => c.function === "NtCondNested" && c.class === "other"));
  const loop = rows.find((r) => r.entry === "NtCondLoop" && r.event.id === 8)!;
  // Only the loop-entry test (count != 0) and the enable bit: the back edge is no guard.
  assert.deepEqual(
    loop.conditions!.map((c) => c.class),
    ["other", "enabled"],
  );
});

test("conditions can be turned off", () => {
  const rows = analyze(true, false);
  assert.ok(rows.length > 0);
  assert.ok(rows.every((r) => r.conditions === undefined && r.logged === undefined));
});
