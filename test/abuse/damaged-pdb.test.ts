// A matching PDB whose symbol stream is damaged (issue 15, item 15: lazy PDB errors). The match reads
// only the PDB's header streams; the symbol records are read later, during the analysis. That late
// error must name the PDB, cost only the PDB (the image is still read and analysed, without symbols)
// and never end a scan worker.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { CatalogStore } from "../../src/catalog/store.js";
import { parseStreamDirectory, parseSuperBlock } from "../../src/formats/pdb/msf/index.js";
import { ByteView } from "../../src/util/bytes.js";
import { fixture, repoRoot } from "../helpers/corpus.js";

const tmp = mkdtempSync(join(tmpdir(), "etw-atlas-damaged-pdb-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const cli = join(repoRoot, "dist", "src", "cli.js");

/** The fixture PDB with every byte of its symbol record stream set to 0xff (header streams intact). */
function damagedPdb(): Uint8Array {
  const bytes = new Uint8Array(readFileSync(fixture("user_etw.pdb")));
  const sb = parseSuperBlock(new ByteView(bytes, "pdb"));
  const streams = parseStreamDirectory(bytes, sb);
  // llvm-pdbutil-14 `dump -streams` names stream 8 of this fixture "Symbol Records"; check the size it prints.
  const pdbutil = spawnSync("llvm-pdbutil", ["dump", "-streams", fixture("user_etw.pdb")], {
    encoding: "utf8",
  });
  const line = /Stream\s+(\d+)\s+\(\s*(\d+) bytes\): \[Symbol Records\]/.exec(pdbutil.stdout);
  assert.ok(line, pdbutil.stdout + pdbutil.stderr);
  const records = streams[Number(line[1])]!;
  assert.equal(records.size, Number(line[2]));
  let left = records.size;
  for (const block of records.blocks) {
    const n = Math.min(left, sb.blockSize);
    bytes.fill(0xff, block * sb.blockSize, block * sb.blockSize + n);
    left -= n;
  }
  return bytes;
}

function imageWithDamagedPdb(name: string): { dir: string; pdb: string } {
  const dir = join(tmp, name);
  mkdirSync(dir);
  copyFileSync(fixture("user_etw.dll"), join(dir, "user_etw.dll"));
  const pdb = join(dir, "user_etw.pdb");
  writeFileSync(pdb, damagedPdb());
  return { dir, pdb };
}

describe("a matching PDB with a damaged symbol stream", () => {
  test("analyze --pdb fails with the PDB's name and what was wrong", () => {
    const { dir, pdb } = imageWithDamagedPdb("analyze");
    const r = spawnSync(process.execPath, [cli, "analyze", join(dir, "user_etw.dll"), "--pdb", pdb], {
      encoding: "utf8",
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`${pdb.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: pdb: symbol record`));
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/); // a message, not a stack trace
  });

  for (const jobs of ["2", "0"]) {
    test(`scan -j ${jobs}: the image is read and analysed without the PDB, the note names it`, () => {
      const { dir, pdb } = imageWithDamagedPdb(`scan-j${jobs}`);
      const db = join(tmp, `scan-j${jobs}.db`);
      const r = spawnSync(process.execPath, [cli, "scan", dir, "--db", db, "-j", jobs], { encoding: "utf8" });
      const out = r.stdout + r.stderr;
      assert.equal(r.status, 0, out);
      assert.doesNotMatch(out, /worker process ended|failed: [1-9]/, out);
      assert.ok(out.includes(`${pdb}: pdb: symbol record`), out);
      assert.match(out, /analysed without this PDB/);
      const store = CatalogStore.open(db, { readonly: true });
      try {
        const image = join(dir, "user_etw.dll");
        const sites = store.sites().filter((s) => s.file === image);
        assert.ok(sites.length > 0, "the image's write sites are stored");
        const notes = store.getFile(image)?.notes ?? [];
        assert.ok(
          notes.some((n) => n.includes(pdb) && n.includes("analysed without this PDB")),
          JSON.stringify(notes),
        );
      } finally {
        store.close();
      }
    });
  }
});
