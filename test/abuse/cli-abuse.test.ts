// The CLI against a hostile environment: a reader that closes the pipe, file names that carry
// terminal escapes and line breaks. Generated here.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { printable } from "../../src/cli/pipe.js";
import { repoRoot } from "../helpers/corpus.js";

const tmp = mkdtempSync(join(tmpdir(), "etw-atlas-cli-abuse-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const cli = join(repoRoot, "dist", "src", "cli.js");

describe("CLI abuse", () => {
  test("scan with its stdout closed by the reader (scan | head -1) ends quietly", async () => {
    const dir = join(tmp, "pipe");
    mkdirSync(dir);
    for (let i = 0; i < 5; i++) writeFileSync(join(dir, `f${i}.txt`), `plain text ${i}`);
    const child = spawn(process.execPath, [cli, "scan", dir, "--db", join(tmp, "pipe.db"), "-q"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.destroy(); // the reader is gone before the summary is written
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const code = await new Promise((resolve) => child.on("exit", resolve));
    assert.doesNotMatch(stderr, /EPIPE|Unhandled|at .*\.js:\d+/);
    assert.equal(code, 0, stderr);
  });

  test("file names with ESC and line breaks are shown escaped", () => {
    const dir = join(tmp, "names");
    mkdirSync(dir);
    const evil = "a\u001b[2J\u001b]0;owned\u0007b\nFAILED forged.man: c\r.xml";
    writeFileSync(join(dir, evil), "<not a manifest");
    const r = spawnSync(process.execPath, [cli, "scan", dir, "--db", join(tmp, "names.db"), "--no-analyze"], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout + r.stderr;
    assert.doesNotMatch(out, /[\u0000-\u0008\u000b-\u001f\u007f]/, "no raw ESC, BEL or CR");
    assert.ok(out.includes("a\\x1b[2J\\x1b]0;owned\\x07b\\nFAILED forged.man: c\\r.xml"), out);
    assert.ok(!out.split("\n").some((l) => l.startsWith("FAILED forged.man")), "no forged line");
    assert.equal(printable("C:\\dir\\é\t"), "C:\\dir\\é\\t");
  });

  test("single-file commands refuse inputs over the size bound quickly, naming the file (1.5 GB sparse PE)", () => {
    const big = join(tmp, "sparse.dll");
    const fd = openSync(big, "w");
    writeFileSync(fd, "MZ");
    ftruncateSync(fd, 1_500_000_000); // sparse: no disk, no time
    closeSync(fd);
    const run = (args: string[], env: Record<string, string> = {}) =>
      spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, ...env } });
    const r = run(["wpp", big]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /sparse\.dll: 1431 MiB is more than the 1024 MiB limit for single-file commands/);
    // A smaller bound for the others (same check), so the test stays cheap.
    const small = join(tmp, "small.dll");
    writeFileSync(small, new Uint8Array(3 << 20));
    for (const args of [
      ["pe", small],
      ["analyze", small],
    ]) {
      const x = run(args, { ETW_ATLAS_MAX_INPUT_MIB: "2" });
      assert.notEqual(x.status, 0, args.join(" "));
      assert.match(x.stderr, /small\.dll: 3 MiB is more than the 2 MiB limit/, args.join(" "));
    }
    const s = run(["symbols", big]);
    assert.notEqual(s.status, 0);
    assert.match(s.stderr, /sparse\.dll: 1500000000 bytes, more than the \d+-byte limit/);
  });

  test("analyze errors name the file", () => {
    const bad = join(tmp, "bad image.dll");
    writeFileSync(bad, "MZ\u0090\u0000garbage");
    const r = spawnSync(process.execPath, [cli, "analyze", bad], { encoding: "utf8" });
    assert.notEqual(r.status, 0);
    assert.ok(r.stderr.includes(`${bad}: pe:`), r.stderr);
  });
});
