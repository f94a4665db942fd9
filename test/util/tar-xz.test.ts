import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, test } from "node:test";
import { collectFiles } from "../../src/pipeline/files.js";
import { unpackTarXz } from "../../src/util/tar-xz.js";

const tmp = mkdtempSync(join(tmpdir(), "etw-atlas-tar-xz-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A .tar.xz of a/one.xml, a/b/two.xml and three.txt, made by the system tar (the oracle). */
function archive(): string {
  const src = join(tmp, "src");
  mkdirSync(join(src, "a", "b"), { recursive: true });
  writeFileSync(join(src, "a", "one.xml"), "<one/>");
  writeFileSync(join(src, "a", "b", "two.xml"), "<two/>");
  writeFileSync(join(src, "three.txt"), "3");
  const out = join(tmp, "x.tar.xz");
  execFileSync("tar", ["-cJf", out, "-C", src, "a", "three.txt"]);
  return out;
}

test("tar-xz: unpacks all entries or only the named members; collectFiles finds every file", () => {
  const tarball = archive();
  const all = unpackTarXz(tarball, join(tmp, "all", "nested"));
  assert.equal(all, join(tmp, "all", "nested"), "returns the (created) directory");
  const rel = collectFiles([all]).map((f) => relative(all, f).split("\\").join("/"));
  assert.deepEqual(rel.sort(), ["a/b/two.xml", "a/one.xml", "three.txt"]);
  assert.equal(readFileSync(join(all, "a", "b", "two.xml"), "utf8"), "<two/>");
  const some = unpackTarXz(tarball, join(tmp, "some"), ["a/b/two.xml"]);
  assert.deepEqual(
    collectFiles([some]).map((f) => relative(some, f)),
    [join("a", "b", "two.xml")],
  );
});

test("tar-xz: a file that is not an archive throws with tar's complaint", () => {
  const bogus = join(tmp, "bogus.tar.xz");
  writeFileSync(bogus, "not xz at all");
  assert.throws(() => unpackTarXz(bogus, join(tmp, "bogus")), /tar -xJf .*bogus\.tar\.xz/);
});

test("tar-xz: an archive unpacking beyond the limit, or damaged, leaves nothing behind", () => {
  const src = join(tmp, "bomb-src");
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, "small.xml"), "<small/>");
  writeFileSync(join(src, "zeros.bin"), new Uint8Array(8 << 20)); // 8 MiB → ~1 KB of xz
  const bomb = join(tmp, "bomb.tar.xz");
  execFileSync("tar", ["-cJf", bomb, "-C", src, "small.xml", "zeros.bin"], {
    env: { ...process.env, XZ_OPT: "-0" },
  });
  const parent = join(tmp, "bomb-out");
  const target = join(parent, "x");
  assert.throws(
    () => unpackTarXz(bomb, target, [], 1 << 20),
    /unpacks to more than 1048576 bytes; nothing unpacked/,
  );
  assert.deepEqual(readdirSync(parent), [], "no partial output, no work directory");
  // Within the limit it unpacks.
  unpackTarXz(bomb, target, [], 9 << 20);
  assert.deepEqual(readdirSync(target).sort(), ["small.xml", "zeros.bin"]);

  const cut = join(tmp, "cut.tar.xz");
  writeFileSync(cut, readFileSync(bomb).subarray(0, Math.floor(readFileSync(bomb).length / 2)));
  const cutParent = join(tmp, "cut-out");
  assert.throws(() => unpackTarXz(cut, join(cutParent, "y")), /failed \(xz exit 1.*nothing unpacked/s);
  assert.deepEqual(readdirSync(cutParent), []);
});
