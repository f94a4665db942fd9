// Bundles the CLI's start-up path, after tsc (`npm run build`), into dist/bin: etw-atlas.js (the
// package's `bin`: src/cli.ts with commander and the command table) and the catalog-only commands
// (events, export, diff), each one file holding its static imports, better-sqlite3's JavaScript
// included. A one-off `etw-atlas events` query then reads 2 files of ours instead of ~25 plus the
// packages' (Node 20 has no module compile cache: every file costs a lookup, a read and a compile;
// measured in bench/cli-start.bench.ts). tsc's output stays as it is (`node dist/src/cli.js` is the
// same CLI unbundled; test/cli-bin.test.ts compares the two).
//
// Dynamic imports stay separate files: the other commands' modules and linking are loaded from
// dist/src as before. Modules that find files next to themselves (import.meta.url: the web server,
// the scan and analysis workers, iced's WASM) must not be inlined: the build fails if one is.
import { existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { build } from "esbuild";

const root = resolve(import.meta.dirname, "..");
const dist = join(root, "dist", "src");
const out = join(root, "dist", "bin");
/** Module (under dist/src) → its bundle (under dist/bin). */
const ENTRIES = {
  "cli.js": "etw-atlas.js",
  "cli/commands/events.js": "events.js",
  "cli/commands/export.js": "export.js",
  "cli/commands/diff.js": "diff.js",
};
/** Modules that locate files relative to themselves: they stay separate files. */
const LOCATION_BOUND = [
  "web/server.js",
  "web/pool.js",
  "pipeline/analysis.js",
  "pipeline/scan-parallel.js",
  "pipeline/inputs.js",
  "analysis/iced.js",
];

/** Dynamic imports stay separate modules (another bundle, or the dist/src file), named from the bundle. */
const keepDynamicImports = (outfile) => ({
  name: "keep-dynamic-imports",
  setup(b) {
    b.onResolve({ filter: /^\./ }, (args) => {
      if (args.kind !== "dynamic-import") return undefined;
      const target = resolve(args.resolveDir, args.path);
      const bundled = ENTRIES[relative(dist, target).split("\\").join("/")];
      let path = relative(dirname(outfile), bundled ? join(out, bundled) : target)
        .split("\\")
        .join("/");
      if (!path.startsWith(".")) path = `./${path}`;
      return { path, external: true };
    });
  },
});

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
  const result = await build({
    entryPoints: [file],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // CommonJS packages (commander, better-sqlite3) call require: give the ES module one.
    banner: {
      js: `import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);`,
    },
    plugins: [keepDynamicImports(outfile), betterSqliteAddon, lazyChildProcess],
    metafile: true,
    logLevel: "warning",
  });
  const inlined = Object.keys(result.metafile.inputs)
    .map((p) => relative(dist, resolve(root, p)).split("\\").join("/"))
    .filter((p) => LOCATION_BOUND.includes(p));
  if (inlined.length)
    throw new Error(`${entry} would inline ${inlined.join(", ")}, which must stay in place`);
}
