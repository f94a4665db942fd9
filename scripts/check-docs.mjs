// Every repository path that README.md and docs/ name (src/..., test/..., scripts/..., bench/...,
// fixtures/..., docs/...) must exist: a renamed module otherwise leaves the docs pointing nowhere.
// Usage: node scripts/check-docs.mjs
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");

function markdownFiles(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) markdownFiles(p, out);
    else if (name.endsWith(".md")) out.push(p);
  }
  return out;
}

const pathRe = /(?<![\w./-])((?:src|test|scripts|bench|fixtures|fixtures-src|docs)\/[\w./-]*[\w-])/g;
const missing = [];
let checked = 0;
for (const file of [join(root, "README.md"), ...markdownFiles(join(root, "docs"))]) {
  const text = readFileSync(file, "utf8");
  for (const m of text.matchAll(pathRe)) {
    const p = m[1].replace(/[.]+$/, "");
    // Globs and placeholders (src/formats/*, test/**/x) are descriptions, not paths.
    if (/[*<>{}]/.test(p)) continue;
    checked++;
    const base = p.replace(/\.js$/, ".ts");
    if (!existsSync(join(root, p)) && !existsSync(join(root, base))) {
      const line = text.slice(0, m.index).split("\n").length;
      missing.push(`${relative(root, file)}:${line}: ${p}`);
    }
  }
}
for (const m of missing) console.error(`check-docs: no such path: ${m}`);
if (missing.length) {
  console.error(`check-docs: ${missing.length} of ${checked} named paths do not exist`);
  process.exit(1);
}
console.log(`check-docs: ${checked} named paths, all exist`);
