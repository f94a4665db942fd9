// Prints the dependency graph between the layers of src/ and exits non-zero when a layer imports one it
// must not (docs/architecture.md has the rules) or when layers form a cycle.
// Usage: node scripts/deps.mjs [--quiet] [--root DIR]   (DIR: a tree with src/, default this repository)
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const rootArg = process.argv.indexOf("--root");
const root = rootArg > 0 ? resolve(process.argv[rootArg + 1]) : resolve(import.meta.dirname, "..");
const src = join(root, "src");

// What each layer may import besides itself. catalog/model and catalog/identity are the event model that
// analysis joins on; the rest of catalog (readers, store, scan) is not for analysis.
const allowed = {
  util: [],
  formats: ["util"],
  symbols: ["util", "formats"],
  catalog: ["util", "formats"],
  analysis: ["util", "formats", "symbols", "catalog/model", "catalog/identity"],
  pipeline: ["util", "formats", "symbols", "catalog", "analysis"],
  web: ["util", "formats", "catalog", "analysis", "pipeline"],
  cli: ["util", "formats", "symbols", "catalog", "analysis", "pipeline", "web"],
  "cli.ts": ["cli"],
};

/** Layer of a file below src/: its first folder, or the file name for top-level files. */
function layerOf(file) {
  const rel = relative(src, file).split(/[\\/]/);
  return rel.length === 1 ? rel[0] : rel[0];
}

/** The finer name used to check the catalog exceptions: catalog/model, catalog/readers, ... */
function unitOf(file) {
  const rel = relative(src, file)
    .replace(/\.(ts|js)$/, "")
    .split(/[\\/]/);
  return rel.length === 1 ? rel[0] : `${rel[0]}/${rel[1]}`;
}

function tsFiles(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) tsFiles(p, out);
    else if (name.endsWith(".ts")) out.push(p);
  }
  return out;
}

const importRe = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"|import\(\s*"(\.[^"]+)"\s*\)/g;
const edges = new Map(); // "a -> b" -> example file
const violations = [];
for (const file of tsFiles(src)) {
  const text = readFileSync(file, "utf8");
  const from = layerOf(file);
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2];
    const target = resolve(dirname(file), spec);
    if (!target.startsWith(src)) continue;
    const to = layerOf(target);
    if (to === from) continue;
    const key = `${from} -> ${to}`;
    if (!edges.has(key)) edges.set(key, relative(root, file));
    const ok = (allowed[from] ?? []).some((a) => a === to || a === unitOf(target));
    if (!ok)
      violations.push(
        `${relative(root, file)} imports ${relative(root, target)} (${from} -> ${unitOf(target)})`,
      );
  }
}

// Cycles between layers (a layer graph is small: a DFS is enough).
const graph = new Map();
for (const key of edges.keys()) {
  const [a, b] = key.split(" -> ");
  if (!graph.has(a)) graph.set(a, new Set());
  graph.get(a).add(b);
}
const cycles = [];
const state = new Map();
function visit(n, stack) {
  state.set(n, "open");
  for (const m of graph.get(n) ?? []) {
    if (state.get(m) === "open") cycles.push([...stack.slice(stack.indexOf(m)), m].join(" -> "));
    else if (!state.has(m)) visit(m, [...stack, m]);
  }
  state.set(n, "done");
}
for (const n of graph.keys()) if (!state.has(n)) visit(n, [n]);

if (!process.argv.includes("--quiet")) {
  console.log("layer graph (an example importer per edge):");
  for (const [key, file] of [...edges].sort()) console.log(`  ${key.padEnd(26)} ${file}`);
}
for (const v of violations) console.error(`deps: wrong-way import: ${v}`);
for (const c of cycles) console.error(`deps: cycle: ${c}`);
if (violations.length || cycles.length) {
  console.error(
    `deps: ${violations.length} wrong-way import(s), ${cycles.length} cycle(s); rules in docs/architecture.md`,
  );
  process.exit(1);
}
console.log(`deps: ${edges.size} layer edges, no wrong-way import, no cycle`);
