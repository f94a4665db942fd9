// `etw-atlas start` and its pieces: the tar reader (vs archives written by GNU tar), npm package
// extraction (the node-pty layout, real conpty binaries from the corpus), the default-input
// search, and the built CLI end to end (scan → analyse → serve → SIGTERM).
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CatalogStore } from "../src/catalog/store.js";
import { committedSample, extractPackageFiles, findCorpus, SAMPLE_FILES } from "../src/pipeline/inputs.js";
import { FormatError } from "../src/util/errors.js";
import { isSafeArchivePath, readTar } from "../src/util/tar.js";
import { corpus, corpusRoot, repoRoot } from "./helpers/corpus.js";

const cli = join(repoRoot, "dist", "src", "cli.js");
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "etw-atlas-start-"));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A node-pty-like package tree with the real conpty binaries and a decoy, packed by GNU tar. */
function packLikeNodePty(format: string): { tgz: string; tar: string } {
  const root = join(dir, `pkg-${format}`);
  const conpty = join(root, "package", "prebuilds", "win32-x64", "conpty");
  mkdirSync(conpty, { recursive: true });
  copyFileSync(corpus("pe/user/OpenConsole.exe"), join(conpty, "OpenConsole.exe"));
  copyFileSync(corpus("pe/user/conpty.dll"), join(conpty, "conpty.dll"));
  writeFileSync(join(root, "package", "package.json"), '{"name":"node-pty"}\n');
  // A path longer than the 100-byte ustar name field (GNU 'L' / pax 'path' / ustar prefix).
  const deep = join(root, "package", "x".repeat(60), "y".repeat(60));
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(deep, "long-name.txt"), "long\n");
  const tar = join(dir, `pkg-${format}.tar`);
  execFileSync("tar", [`--format=${format}`, "-cf", tar, "-C", root, "package"]);
  const tgz = `${tar}.gz`;
  execFileSync("sh", ["-c", `gzip -c '${tar}' > '${tgz}'`]);
  return { tgz, tar };
}

describe("tar reader", () => {
  for (const format of ["gnu", "ustar", "pax"]) {
    test(`reads a ${format} archive written by GNU tar: names, types and bytes`, () => {
      const { tar } = packLikeNodePty(format);
      const entries = readTar(readFileSync(tar));
      const listed = execFileSync("tar", ["-tf", tar], { encoding: "utf8" }).trim().split("\n");
      assert.deepEqual(
        entries.map((e) => e.name.replace(/\/$/, "")),
        listed.map((n) => n.replace(/\/$/, "")),
      );
      const exe = entries.find((e) => e.name === "package/prebuilds/win32-x64/conpty/OpenConsole.exe")!;
      assert.equal(exe.type, "0");
      assert.ok(Buffer.from(exe.data).equals(readFileSync(corpus("pe/user/OpenConsole.exe"))));
      const long = entries.find((e) => e.name.endsWith("long-name.txt"))!;
      assert.equal(long.name.length > 100, true);
      assert.equal(new TextDecoder().decode(long.data), "long\n");
      assert.ok(
        entries.some((e) => e.type === "5"),
        "directories are listed",
      );
    });
  }

  test("bad archives give FormatErrors, never a crash or a hang", () => {
    const bytes = new Uint8Array(readFileSync(packLikeNodePty("ustar").tar));
    const badSum = bytes.slice();
    badSum[0] ^= 0xff;
    assert.throws(
      () => readTar(badSum),
      (e: unknown) => e instanceof FormatError && /checksum/.test(e.message),
    );
    // Cut inside a file's data (the first PE image's "MZ"), and inside a header.
    const mz = Buffer.from(bytes).indexOf("MZ\x90\x00", 0, "latin1");
    assert.ok(mz > 0);
    assert.throws(() => readTar(bytes.slice(0, mz + 1000)), /runs past the end/);
    assert.throws(() => readTar(bytes.slice(0, 512 + 100)), /ends inside an entry header/);
    const badSize = bytes.slice();
    badSize.set(new TextEncoder().encode("9999999999z"), 124);
    assert.throws(() => readTar(badSize), FormatError);
    assert.deepEqual(readTar(new Uint8Array(1024)), [], "two zero blocks = empty archive");
    assert.deepEqual(readTar(new Uint8Array(0)), []);
  });

  test("unsafe archive paths are recognised", () => {
    for (const p of ["/etc/passwd", "../x", "package/../../x", "C:/x", "a\\b", "a//b"])
      assert.equal(isSafeArchivePath(p), false, p);
    for (const p of ["package/prebuilds/win32-x64/conpty/conpty.dll", "a/b.c"])
      assert.equal(isSafeArchivePath(p), true, p);
  });
});

describe("npm sample extraction", () => {
  test("takes exactly the conpty binaries out of a node-pty style .tgz, byte for byte", () => {
    const { tgz } = packLikeNodePty("gnu");
    const out = join(dir, "extracted");
    const files = extractPackageFiles(readFileSync(tgz), out, SAMPLE_FILES);
    assert.deepEqual(
      files.map((f) => f.slice(out.length + 1)),
      ["prebuilds/win32-x64/conpty/OpenConsole.exe", "prebuilds/win32-x64/conpty/conpty.dll"],
    );
    assert.ok(readFileSync(files[1]!).equals(readFileSync(corpus("pe/user/conpty.dll"))));
  });

  test("a corrupt .tgz is an error, not a crash", () => {
    const { tgz } = packLikeNodePty("gnu");
    const bytes = readFileSync(tgz);
    assert.throws(() =>
      extractPackageFiles(bytes.subarray(0, bytes.length >> 1), join(dir, "x"), SAMPLE_FILES),
    );
  });

  test("the default input is the shared corpus when it is beside the repository", () => {
    assert.equal(findCorpus(repoRoot, repoRoot), corpusRoot);
    assert.equal(findCorpus(join(dir, "nowhere"), join(dir, "nowhere"), {}), undefined);
  });

  test("ETW_ATLAS_CORPUS names the corpus; a missing directory there means no corpus", () => {
    assert.equal(findCorpus(repoRoot, repoRoot, { ETW_ATLAS_CORPUS: corpusRoot }), corpusRoot);
    assert.equal(findCorpus(repoRoot, repoRoot, { ETW_ATLAS_CORPUS: join(dir, "missing") }), undefined);
  });

  test("without a corpus the committed fixtures/ are the sample", () => {
    assert.equal(committedSample(repoRoot), join(repoRoot, "fixtures"));
    assert.equal(committedSample(dir), undefined);
  });
});

describe("etw-atlas start (built CLI)", () => {
  test("--no-serve scans, analyses x64 images and stores code sites", () => {
    const db = join(dir, "nos.db");
    const run = spawnSync(
      process.execPath,
      [
        cli,
        "start",
        "--no-serve",
        "--db",
        db,
        corpus("pe/kernel/fltMgr.sys"),
        corpus("manifests/tdh-reconstructed/Win10-17134_Microsoft-Windows-FilterManager.xml"),
      ],
      { encoding: "utf8" },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /Analysed 1 x64 images in [\d.]+ s: [1-9]\d* code sites/);
    const store = CatalogStore.open(db, { readonly: true });
    try {
      const sites = store.sites({ file: corpus("pe/kernel/fltMgr.sys") });
      assert.ok(sites.length > 0);
      assert.ok(sites.some((s) => s.providerName === "Microsoft-Windows-FilterManager" && s.entry));
      assert.ok(store.eventCount() > 0);
    } finally {
      store.close();
    }
  });

  test("serves on 127.0.0.1, prints the URL on stdout, progress on stderr, stops on SIGTERM", async () => {
    const db = join(dir, "serve.db");
    const child: ChildProcess = spawn(
      process.execPath,
      [cli, "start", "--db", db, "--port", "0", "--no-analyze", corpus("manifests/DxcRuntime.man")],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => {
      stdout += d;
    });
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed; stderr: ${stderr}`)), 30_000);
        child.stdout!.on("data", () => {
          const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(stdout);
          if (m) {
            clearTimeout(timer);
            resolve(m[0]);
          }
        });
        child.on("exit", () => reject(new Error(`exited early: ${stderr}`)));
      });
      const summary = (await (await fetch(`${url}api/summary`)).json()) as { events: number; sites: number };
      assert.ok(summary.events > 0);
      assert.equal(summary.sites, 0, "--no-analyze");
      assert.match(stderr, /Scanned 1 files/);
      assert.doesNotMatch(stdout, /Scanned/, "progress and summary go to stderr");
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0);
  });
});
