// Bundles the CLI's start-up path, after tsc (`npm run build`), into dist/bin: etw-atlas.js (the
// package's `bin`: src/cli.ts with commander and the command table), the catalog-only commands
// (events, export, diff) and analyze (analyze.js: its options; analyze-run.js: the analysis of one
// image with iced-x86's JavaScript), each one file holding its static imports, better-sqlite3's
// JavaScript included. A one-off `etw-atlas events` query then reads 2 files of ours instead of ~25
// plus the packages', `analyze` 3 instead of ~80 (Node 20 has no module compile cache: every file
// costs a lookup, a read and a compile; measured in bench/cli-start.bench.ts and
// bench/analyze.bench.ts). tsc's output stays as it is (`node dist/src/cli.js` is the same CLI
// unbundled; test/cli-bin.test.ts compares the two).
//
// Dynamic imports stay separate files: the other commands' modules, linking and what analyze loads
// only for an option (PDB, symbol path, --db, --mof) are loaded from dist/src as before. Modules
// that find files next to themselves (import.meta.url: the web server, the scan and analysis
// workers) must not be inlined: the build fails if one is. iced-x86 finds its WASM through Node's
// resolution of the package instead (plugin below).
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { codeCacheFile } from "../dist/src/cli/code-cache.js";

const root = resolve(import.meta.dirname, "..");
const dist = join(root, "dist", "src");
const out = join(root, "dist", "bin");
/** Module (under dist/src) → its bundle (under dist/bin). */
const ENTRIES = {
  "cli.js": "etw-atlas.js",
  "cli/commands/events.js": "events.js",
  "cli/commands/export.js": "export.js",
  "cli/commands/diff.js": "diff.js",
  "cli/commands/analyze.js": "analyze.js",
  "cli/commands/analyze-run.js": "analyze-run.cjs",
};
/**
 * Bundles run as CommonJS scripts through V8's code cache (src/cli/code-cache.ts), each with the
 * module its loader imports it through, which the ES bundles get in a version calling `loadBundle`.
 */
const CODE_CACHED = {
  "analyze-run.cjs": { loader: "cli/commands/analyze-load.js", exports: "loadAnalyzeRun" },
};
/** Modules that locate files relative to themselves: they stay separate files. */
const LOCATION_BOUND = [
  "web/server.js",
  "web/pool.js",
  "pipeline/analysis.js",
  "pipeline/scan-parallel.js",
  "pipeline/inputs.js",
];

/**
 * Dynamic imports stay separate modules (another bundle, or the dist/src file), named from the
 * bundle. `specifiers` collects them (a code-cached bundle calls `__import` for them instead).
 */
const keepDynamicImports = (outfile, specifiers = new Set()) => ({
  name: "keep-dynamic-imports",
  setup(b) {
    b.onResolve({ filter: /^\./ }, (args) => {
      if (args.kind !== "dynamic-import") return undefined;
      const target = resolve(args.resolveDir, args.path);
      const bundled = ENTRIES[relative(dist, target).split("\\").join("/")];
      if (bundled && CODE_CACHED[bundled])
        throw new Error(
          `${args.importer}: ${bundled} is loaded through ${CODE_CACHED[bundled].loader}, not imported`,
        );
      let path = relative(dirname(outfile), bundled ? join(out, bundled) : target)
        .split("\\")
        .join("/");
      if (!path.startsWith(".")) path = `./${path}`;
      specifiers.add(path);
      return { path, external: true };
    });
  },
});

/** The loader modules of code-cached bundles, in the version that runs the bundle (code-cache.ts). */
const codeCacheLoaders = {
  name: "code-cache-loaders",
  setup(b) {
    for (const [bundle, { loader, exports }] of Object.entries(CODE_CACHED)) {
      const file = join(dist, loader);
      b.onLoad({ filter: new RegExp(`${file.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&")}$`) }, () => ({
        contents: `import { fileURLToPath } from "node:url";
          import { loadBundle } from ${JSON.stringify(join(dist, "cli", "code-cache.js"))};
          export async function ${exports}() {
            return loadBundle(fileURLToPath(new URL(${JSON.stringify(`./${bundle}`)}, import.meta.url)));
          }`,
        loader: "js",
      }));
    }
  },
};

/**
 * better-sqlite3 finds its addon through the `bindings` package, which searches from the calling
 * file's location (wrong inside a bundle): the bundle asks Node to resolve the package instead.
 */
const betterSqliteAddon = {
  name: "better-sqlite3-addon",
  setup(b) {
    b.onResolve({ filter: /^bindings$/ }, () => ({ path: "bindings", namespace: "addon" }));
    b.onLoad({ filter: /.*/, namespace: "addon" }, () => ({
      contents: `const { dirname, join } = require("node:path");
        module.exports = (name) => require(join(dirname(require.resolve("better-sqlite3/package.json")), "build", "Release", name));`,
      loader: "js",
    }));
  },
};

/**
 * iced-x86 is inlined once. analysis/iced.js loads it with `createRequire` (cheaper than an ES import
 * for tsc's unbundled modules), which esbuild leaves to run time: a second copy of the package and of
 * its WASM instance next to the one the ES imports inline. In the bundle it becomes the ES import.
 * iced-x86 reads its WASM from `__dirname` (the package's folder; undefined in an ES module bundle):
 * the bundle asks Node to resolve the WASM file in the package instead.
 */
const icedOnce = {
  name: "iced-once",
  setup(b) {
    b.onLoad({ filter: /[\\/]analysis[\\/]iced\.js$/ }, () => ({
      contents: `import iced from "iced-x86"; export default iced;`,
      loader: "js",
      resolveDir: root,
    }));
    b.onLoad({ filter: /[\\/]iced-x86[\\/]iced_x86\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      const find = "require('path').join(__dirname, 'iced_x86_bg.wasm')";
      if (source.split(find).length !== 2) throw new Error(`${args.path}: expected one ${find}`);
      return { contents: source.replace(find, `require.resolve("iced-x86/iced_x86_bg.wasm")`), loader: "js" };
    });
  },
};

/**
 * commander loads node:child_process (and with it net, dgram, ...) for executable subcommands,
 * which this CLI does not have: it gets the module on first use instead of at start.
 */
const lazyChildProcess = {
  name: "lazy-child-process",
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]commander[\\/]/.test(args.importer) ? { path: "child_process", namespace: "lazy" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "lazy" }, () => ({
      contents: `let m; module.exports = new Proxy({}, { get: (_, k) => (m ??= require("node:child_process"))[k] });`,
      loader: "js",
    }));
  },
};

for (const [entry, bundle] of Object.entries(ENTRIES)) {
  const file = join(dist, entry);
  if (!existsSync(file)) throw new Error(`${file} is missing: run tsc first`);
  const outfile = join(out, bundle);
  const cjs = bundle in CODE_CACHED;
  const specifiers = new Set();
  const result = await build({
    entryPoints: [file],
    outfile,
    bundle: true,
    format: cjs ? "cjs" : "esm",
    platform: "node",
    target: "node20",
    // Whitespace and comments out (iced-x86 is half JSDoc): fewer bytes to read, decode and parse.
    minifyWhitespace: true,
    external: ["iced-x86/iced_x86_bg.wasm"],
    // CommonJS packages (commander, better-sqlite3) call require: give the ES module one.
    banner: cjs
      ? undefined
      : {
          js: `import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);`,
        },
    plugins: [
      keepDynamicImports(outfile, specifiers),
      betterSqliteAddon,
      icedOnce,
      lazyChildProcess,
      codeCacheLoaders,
    ],
    metafile: true,
    write: false,
    logLevel: "warning",
  });
  const inlined = Object.keys(result.metafile.inputs)
    .map((p) => relative(dist, resolve(root, p)).split("\\").join("/"))
    .filter((p) => LOCATION_BOUND.includes(p));
  if (inlined.length)
    throw new Error(`${entry} would inline ${inlined.join(", ")}, which must stay in place`);
  let text = result.outputFiles[0].text;
  if (/createRequire\(import\.meta\.url\)\("iced-x86"\)/.test(text))
    throw new Error(`${bundle} loads iced-x86 at run time besides inlining it`);
  if (cjs) {
    if (/\bimport\.meta\b/.test(text)) throw new Error(`${bundle}: import.meta in a CommonJS bundle`);
    for (const spec of specifiers) {
      const call = `import(${JSON.stringify(spec)})`;
      if (!text.includes(call)) throw new Error(`${bundle}: no ${call} to route through __import`);
      text = text.split(call).join(`__import(${JSON.stringify(spec)})`);
    }
    if (/[^\w.]import\(/.test(text))
      throw new Error(`${bundle}: an import() left that a vm script cannot run`);
  }
  mkdirSync(out, { recursive: true });
  writeFileSync(outfile, text);
  if (text.startsWith("#!")) chmodSync(outfile, 0o755);
}

// The code caches: one warm-up run of each code-cached bundle on a committed fixture, which writes
// the bytecode of every function it compiled (src/cli/code-cache.ts). The fixture is a small image:
// the cache holds V8's flags of a small image's run (src/cli/jit-tiers.ts), where start-up counts.
for (const bundle of Object.keys(CODE_CACHED)) rmSync(codeCacheFile(join(out, bundle)), { force: true });
const warmUp = spawnSync(
  process.execPath,
  [
    join(out, "etw-atlas.js"),
    "analyze",
    join(root, "fixtures", "etw_patterns.sys"),
    "--format",
    "jsonl",
    "-q",
  ],
  { env: { ...process.env, ETW_ATLAS_WRITE_CODE_CACHE: "1" }, encoding: "utf8" },
);
if (warmUp.status !== 0) throw new Error(`the bundled analyze failed: ${warmUp.stderr}`);
for (const bundle of Object.keys(CODE_CACHED)) {
  const file = join(out, bundle);
  if (!existsSync(codeCacheFile(file))) throw new Error(`no code cache written for ${bundle}`);
  // A fresh process with the CLI's flags must accept it (else it is only never used: say so).
  const check = spawnSync(process.execPath, [
    "--input-type=module",
    "-e",
    `import { codeCacheAccepted } from ${JSON.stringify(pathToFileURL(join(dist, "cli", "code-cache.js")).href)};
     import { chooseJitTiers } from ${JSON.stringify(pathToFileURL(join(dist, "cli", "jit-tiers.js")).href)};
     chooseJitTiers(0);
     process.exit(codeCacheAccepted(${JSON.stringify(file)}) ? 0 : 3);`,
  ]);
  if (check.status !== 0)
    console.warn(
      `bundle-cli: V8 rejects the code cache of ${bundle} (${check.status}); the CLI compiles it instead`,
    );
}
