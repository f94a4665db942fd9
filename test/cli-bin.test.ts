// The package's `bin` (dist/bin/etw-atlas.js, bundled by scripts/bundle-cli.mjs) is the same CLI as
// tsc's output (dist/src/cli.js): same stdout, stderr and exit code for the bundled commands
// (events in every format, export, diff, analyze with the options that load dist/src modules),
// for commands it loads from dist/src (pe, reach), and for help, version and errors, on a real
// catalog with code sites.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { corpus, fixture } from "./helpers/corpus.js";
import { buildTestCatalogs, type TestCatalogs } from "./helpers/web-catalog.js";

const repoRoot = resolve(fileURLToPath(import.meta.url), "..", "..", "..");
const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
  bin: Record<string, string>;
};
const bin = join(repoRoot, pkg.bin["etw-atlas"]!);
const unbundled = join(repoRoot, "dist", "src", "cli.js");

let dir: string;
let cat: TestCatalogs;

function run(cli: string, args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", cwd: dir });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "etw-atlas-cli-bin-"));
  cat = buildTestCatalogs(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("the bundled bin", () => {
  test("is the package's bin and a bundle, not tsc's module", () => {
    assert.equal(pkg.bin["etw-atlas"], "dist/bin/etw-atlas.js");
    assert.doesNotMatch(readFileSync(bin, "utf8"), /from "commander"/);
  });

  test("answers as dist/src/cli.js does", () => {
    // analyze --db writes sites: into a copy of the catalog.
    const sitesDb = join(dir, "analyze-sites.db");
    copyFileSync(cat.dbPath, sitesDb);
    const cases: string[][] = [
      ["--version"],
      ["--help"],
      ["events", "--help"],
      ["events", "--db", cat.dbPath, "--field", "ProcessID"],
      ["events", "--db", cat.dbPath, "--provider", "Microsoft-Windows-FilterManager", "--sites"],
      ["events", "--db", cat.dbPath, "--text", "process", "--format", "tsv"],
      ["events", "--db", cat.dbPath, "--provider", "Microsoft-Windows-FilterManager", "--format", "jsonl"],
      ["events", "--db", cat.dbPath, "--mode", "kernel", "--limit", "3"],
      ["events", "--db", cat.dbPath, "--limit", "2", "--format", "tsv"],
      ["events", "--db", join(dir, "missing.db")],
      ["events", "--db", cat.dbPath, "--format", "xml"],
      ["diff", cat.oldDbPath, cat.dbPath],
      ["pe", corpus("pe/kernel/ksecdd.sys")],
      ["reach", "--db", cat.dbPath, "--provider", "Microsoft-Windows-FilterManager"],
      ["analyze", "--help"],
      ["analyze", corpus("pe/kernel/ksecdd.sys"), "--format", "jsonl", "-q"],
      ["analyze", corpus("pe/kernel/ksecdd.sys"), "--format", "api-to-etw", "-q"],
      // --pdb, --kernel-names, --mof and --db load their modules when asked.
      [
        "analyze",
        fixture("etw_patterns.sys"),
        "--pdb",
        fixture("etw_patterns.pdb"),
        "--kernel-names",
        corpus("reference"),
        "--format",
        "tsv",
        "-q",
      ],
      ["analyze", fixture("wpp_driver.sys"), "--pdb", fixture("wpp_driver.pdb"), "--format", "jsonl", "-q"],
      ["analyze", fixture("kernel_etw.sys"), "--mof", corpus("mof/wmicore.mof"), "--format", "jsonl", "-q"],
      ["analyze", fixture("etw_patterns.sys"), "--db", sitesDb, "--format", "md", "-q"],
      ["analyze", join(dir, "missing.sys")],
      ["analyze", corpus("pe/kernel/ksecdd.sys"), "--format", "xml"],
      ["nope"],
    ];
    let rows = 0;
    for (const args of cases) {
      const a = run(unbundled, args);
      const b = run(bin, args);
      const label = args.join(" ");
      assert.equal(b.status, a.status, label);
      assert.equal(b.stdout, a.stdout, label);
      assert.equal(b.stderr, a.stderr, label);
      rows += a.stdout.split("\n").length;
    }
    assert.ok(rows > 300, `${rows} lines compared`);
  });

  test("export writes the same files", () => {
    const out = (cli: string) => {
      const d = join(dir, `export-${cli === bin ? "bin" : "src"}`);
      const r = run(cli, ["export", "--db", cat.dbPath, "--format", "tsv", "--out", d]);
      assert.equal(r.status, 0, r.stderr);
      return d;
    };
    const [a, b] = [out(unbundled), out(bin)];
    const list = (d: string) =>
      (readdirSync(d, { recursive: true }) as string[]).filter((f) => statSync(join(d, f)).isFile()).sort();
    const files = list(a);
    assert.ok(files.length > 2, files.join(" "));
    assert.deepEqual(list(b), files);
    for (const f of files)
      assert.equal(readFileSync(join(b, f), "utf8"), readFileSync(join(a, f), "utf8"), f);
  });
});
