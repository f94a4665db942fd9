import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
