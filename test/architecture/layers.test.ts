// The layer rules of docs/architecture.md are checked two ways: Biome's noRestrictedImports (per
// folder, in `npm run lint`) and scripts/deps.mjs (the layer graph, wrong-way imports, cycles). Both
// must catch a deliberately wrong-way import in a scratch tree and pass a right-way one.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { repoRoot } from "../helpers/corpus.js";

const dir = mkdtempSync(join(tmpdir(), "etw-atlas-layers-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string>): string {
  const root = join(dir, name);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  // The repository's own rules; only git integration is off (the scratch tree is no checkout).
  const config = JSON.parse(readFileSync(join(repoRoot, "biome.json"), "utf8"));
  config.vcs = { enabled: false };
  writeFileSync(join(root, "biome.json"), JSON.stringify(config));
  return root;
}

const base = {
  "src/util/bytes.ts": "export const one = 1;\n",
  "src/catalog/model.ts": "export const model = 2;\n",
};

function biomeLint(root: string): { status: number | null; out: string } {
  const biome = join(repoRoot, "node_modules", ".bin", "biome");
  const r = spawnSync(biome, ["lint", "--config-path", join(root, "biome.json"), join(root, "src")], {
    cwd: root,
    encoding: "utf8",
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

function deps(root: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(repoRoot, "scripts", "deps.mjs"), "--root", root], {
    encoding: "utf8",
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

test("a format parser that imports the catalog fails lint and the deps check", () => {
  const root = tree("wrong", {
    ...base,
    "src/formats/pe/x.ts": 'import { model } from "../../catalog/model.js";\nexport const x = model;\n',
  });
  const lint = biomeLint(root);
  assert.notEqual(lint.status, 0, lint.out);
  assert.match(lint.out, /formats\/ are pure parsers/);
  const d = deps(root);
  assert.equal(d.status, 1, d.out);
  assert.match(d.out, /wrong-way import: src\/formats\/pe\/x\.ts imports src\/catalog\/model\.js/);
});

test("right-way imports pass both", () => {
  const root = tree("right", {
    ...base,
    "src/formats/pe/x.ts": 'import { one } from "../../util/bytes.js";\nexport const x = one;\n',
    "src/catalog/y.ts": 'import { x } from "../formats/pe/x.js";\nexport const y = x;\n',
  });
  const lint = biomeLint(root);
  assert.equal(lint.status, 0, lint.out);
  const d = deps(root);
  assert.equal(d.status, 0, d.out);
});

test("a cycle between layers is reported", () => {
  const root = tree("cycle", {
    ...base,
    "src/catalog/a.ts": 'import { b } from "../analysis/b.js";\nexport const a = b;\n',
    "src/analysis/b.ts": 'import { model } from "../catalog/model.js";\nexport const b = model;\n',
  });
  const d = deps(root);
  assert.equal(d.status, 1, d.out);
  assert.match(d.out, /cycle: (catalog -> analysis -> catalog|analysis -> catalog -> analysis)/);
});

test("this repository has no wrong-way import and no cycle between layers", () => {
  const d = deps(repoRoot);
  assert.equal(d.status, 0, d.out);
  assert.match(d.out, /no wrong-way import, no cycle/);
  // analysis reaches the catalog only through its event model and identity.
  assert.doesNotMatch(d.out, /analysis -> catalog\/(readers|store)/);
});
