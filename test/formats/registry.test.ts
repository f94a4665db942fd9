// Registry hives (regf) as Windows writes them, here written by a real tool: hivexsh (Debian
// libhivex-bin) adds every key and value to an empty skeleton; hivexml (same package) is the oracle
// the reader's tree is compared with. The WINEVT publishers then name providers the binaries leave
// nameless.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CatalogStore } from "../../src/catalog/store.js";
import { Hive, type RegKey, valueText } from "../../src/formats/registry/regf.js";
import { readWinevtRegistration } from "../../src/formats/registry/winevt.js";
import { readers } from "../../src/pipeline/readers.js";
import { scanPaths } from "../../src/pipeline/scan.js";
import { FormatError } from "../../src/util/errors.js";
import { corpus } from "../helpers/corpus.js";
import { emptyHive } from "../helpers/hive-skeleton.js";

const dir = mkdtempSync(join(tmpdir(), "etw-atlas-regf-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a hivexsh script over the empty skeleton and returns the committed hive's bytes. */
function hiveFrom(script: string[], name: string): Uint8Array {
  const skeleton = join(dir, `${name}.empty`);
  const out = join(dir, `${name}.hiv`);
  writeFileSync(skeleton, emptyHive());
  writeFileSync(join(dir, `${name}.txt`), [...script, `commit ${out}`, ""].join("\n"));
  execFileSync("hivexsh", ["-w", skeleton, "-f", join(dir, `${name}.txt`)]);
  return readFileSync(out);
}

/** hivexsh lines that go to `path` from the root, adding the keys this script has not added yet. */
function pathMaker(): (path: string) => string[] {
  const made = new Set<string>();
  return (path) => {
    const lines = ["cd \\ "];
    let at = "";
    for (const part of path.split("\\")) {
      at = at ? `${at}\\${part}` : part;
      if (!made.has(at.toLowerCase())) lines.push(`add ${part}`);
      made.add(at.toLowerCase());
      lines.push(`cd ${part}`);
    }
    return lines;
  };
}

const KERNEL_PROCESS = "22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716";
const WINEVT = "Microsoft\\Windows\\CurrentVersion\\WINEVT";

function softwareScript(extraPublishers: string[][] = []): string[] {
  const mkpath = pathMaker();
  return [
    ...mkpath("Microsoft\\Windows NT\\CurrentVersion"),
    "setval 4",
    "CurrentBuildNumber",
    "string:17134",
    "CurrentMajorVersionNumber",
    "dword:10",
    "CurrentMinorVersionNumber",
    "dword:0",
    "UBR",
    "dword:523",
    ...mkpath(`${WINEVT}\\Publishers`),
    `add {${KERNEL_PROCESS}}`,
    `cd {${KERNEL_PROCESS}}`,
    "setval 3",
    "@",
    "string:Microsoft-Windows-Kernel-Process",
    "ResourceFileName",
    "expandstring:%SystemRoot%\\system32\\Microsoft-Windows-System-Events.dll",
    "MessageFileName",
    "expandstring:%SystemRoot%\\system32\\Microsoft-Windows-System-Events.dll",
    "add ChannelReferences",
    "cd ChannelReferences",
    "add 0",
    "cd 0",
    "setval 2",
    "@",
    "string:Microsoft-Windows-Kernel-Process/Analytic",
    "Id",
    "dword:16",
    "cd ..",
    "cd ..",
    "cd ..",
    "add {00000000-0000-0000-0000-000000000001}",
    "add NotAGuid",
    ...extraPublishers.flat(),
    ...mkpath(`${WINEVT}\\Channels\\Microsoft-Windows-Kernel-Process/Analytic`),
    "setval 3",
    "OwningPublisher",
    `string:{${KERNEL_PROCESS}}`,
    "Enabled",
    "dword:0",
    "Type",
    "dword:2",
  ];
}

interface XmlNode {
  name: string;
  values: Array<{ name: string; text: string }>;
  children: XmlNode[];
}

/** The key tree as hivexml prints it (names, and string/dword values). */
function hivexmlTree(file: string): XmlNode {
  // hivexml cannot write to a pipe: it gets a file as standard output.
  const out = `${file}.xml`;
  const fd = openSync(out, "w");
  try {
    execFileSync("hivexml", [file], { stdio: ["ignore", fd, "pipe"] });
  } finally {
    closeSync(fd);
  }
  const xml = readFileSync(out, "utf8");
  const root: XmlNode = { name: "", values: [], children: [] };
  const stack = [root];
  const xmlUnescape = (s: string) =>
    s
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, "&");
  for (const m of xml.matchAll(/<node name="([^"]*)"[^>]*?(\/?)>|<\/node>|<value ([^>]*?)\/?>/g)) {
    if (m[0] === "</node>") stack.pop();
    else if (m[0].startsWith("<node")) {
      const n: XmlNode = { name: xmlUnescape(m[1]!), values: [], children: [] };
      stack.at(-1)!.children.push(n);
      if (m[2] !== "/") stack.push(n);
    } else {
      const attrs = m[3]!;
      const type = /type="([^"]*)"/.exec(attrs)?.[1];
      const key = /key="([^"]*)"/.exec(attrs)?.[1] ?? "";
      const value = /value="([^"]*)"/.exec(attrs)?.[1];
      if ((type === "string" || type === "expand") && value !== undefined)
        stack.at(-1)!.values.push({ name: xmlUnescape(key), text: xmlUnescape(value) });
    }
  }
  return root.children[0]!;
}

function ourTree(hive: Hive, key: RegKey): XmlNode {
  return {
    name: key.name,
    values: hive
      .values(key)
      .filter((v) => v.type === 1 || v.type === 2)
      .map((v) => ({ name: v.name, text: valueText(v)! })),
    children: hive.subkeys(key).map((k) => ourTree(hive, k)),
  };
}

describe("regf reader on hives written by hivexsh", () => {
  let software: Uint8Array;
  let file: string;
  before(() => {
    // 1,500 extra publishers: a subkey list far larger than one hint block.
    const extra = Array.from({ length: 1500 }, (_, i) => [
      `add {${(i + 0x1000).toString(16).padStart(8, "0")}-0000-0000-0000-00000000abcd}`,
    ]);
    software = hiveFrom(softwareScript(extra), "software");
    file = join(dir, "software.hiv");
  });

  test("the key tree and string values equal hivexml's", () => {
    const hive = new Hive(software);
    const ours = ourTree(hive, hive.root());
    const theirs = hivexmlTree(file);
    assert.deepEqual(ours, theirs);
    const publishers = hive.find(`${WINEVT}\\Publishers`)!;
    assert.equal(hive.subkeys(publishers).length, 1500 + 3);
  });

  test("WINEVT publishers, channels and the build are read", () => {
    const reg = readWinevtRegistration(new Hive(software));
    assert.equal(reg.build, "10.0.17134");
    const kp = reg.publishers.find((p) => p.guid === KERNEL_PROCESS)!;
    assert.equal(kp.name, "Microsoft-Windows-Kernel-Process");
    assert.match(kp.resourceFile!, /Microsoft-Windows-System-Events\.dll$/);
    assert.deepEqual(kp.channels, [{ index: 0, name: "Microsoft-Windows-Kernel-Process/Analytic", id: 16 }]);
    assert.equal(reg.publishers.length, 1500 + 2);
    assert.ok(
      reg.publishers.some((p) => p.guid === "00000000-0000-0000-0000-000000000001" && p.name === undefined),
    );
    assert.deepEqual(reg.notes, ["Publishers\\NotAGuid: key name is not a GUID; skipped"]);
    assert.deepEqual(reg.channels, [
      {
        name: "Microsoft-Windows-Kernel-Process/Analytic",
        owningPublisher: KERNEL_PROCESS,
        enabled: false,
        type: 2,
      },
    ]);
  });

  test("a value larger than one cell segment (big data) reads back whole", () => {
    // hivexsh reads lines of limited length, so this value goes in through hivexregedit's .reg import.
    const data = Array.from({ length: 40000 }, (_, i) => (i * 7) & 0xff);
    const hex = data.map((b) => b.toString(16).padStart(2, "0"));
    const rows: string[] = [];
    for (let i = 0; i < hex.length; i += 24) rows.push(hex.slice(i, i + 24).join(","));
    const reg = `Windows Registry Editor Version 5.00\n\n[\\Big]\n"Blob"=hex:${rows.join(",\\\n  ")}\n`;
    const file = join(dir, "big.hiv");
    writeFileSync(file, emptyHive());
    writeFileSync(join(dir, "big.reg"), reg);
    execFileSync("hivexregedit", ["--merge", file, "--prefix", "", join(dir, "big.reg")]);
    const hive = new Hive(readFileSync(file));
    const [v] = hive.values(hive.find("Big")!);
    assert.equal(v!.type, 3);
    assert.equal(v!.data.length, data.length);
    assert.deepEqual([...v!.data], data);
  });

  test("bad hives give a FormatError, never a crash or a hang", () => {
    assert.throws(() => new Hive(new Uint8Array(100)), FormatError);
    assert.throws(() => new Hive(software.subarray(0, 4100)), FormatError);
    // Every truncation point of the bins: either reads or throws FormatError.
    for (let cut = 4096 + 32; cut < software.length; cut += 4093) {
      try {
        readWinevtRegistration(new Hive(software.subarray(0, cut)));
      } catch (err) {
        assert.ok(err instanceof FormatError, `cut ${cut}: ${err}`);
      }
    }
    // A subkey list that names itself: the root's list offset pointed at the root's own nk cell.
    const loop = software.slice();
    const dv = new DataView(loop.buffer);
    const root = dv.getUint32(36, true);
    const listAt = 4096 + root + 4 + 28;
    const list = dv.getUint32(listAt, true);
    // Turn the root's list into an ri list whose only entry is itself.
    dv.setUint8(4096 + list + 4, "r".charCodeAt(0));
    dv.setUint8(4096 + list + 5, "i".charCodeAt(0));
    dv.setUint16(4096 + list + 6, 1, true);
    dv.setUint32(4096 + list + 8, list, true);
    const hive = new Hive(loop);
    assert.throws(() => hive.subkeys(hive.root()), /refers to itself/);
  });

  test("a SOFTWARE hive names the provider a Win7 binary leaves nameless (nameFrom registry)", () => {
    const image = corpus("pe/kernel/win32k_6.1.7601.17514.sys");
    const store = CatalogStore.open(":memory:");
    scanPaths([image], { readers, store });
    const guid = (
      store.db.prepare("SELECT guid FROM providers WHERE name = '' LIMIT 1").get() as { guid: string }
    ).guid;
    assert.match(guid, /^[0-9a-f-]{36}$/);
    const named = hiveFrom(
      [
        ...pathMaker()(`${WINEVT}\\Publishers\\{${guid}}`),
        "setval 1",
        "@",
        "string:Microsoft-Windows-Win32k",
      ],
      "win7",
    );
    const hivePath = join(dir, "SOFTWARE");
    writeFileSync(hivePath, named);
    const s = scanPaths([hivePath], { readers, store });
    assert.equal(s.failed.length, 0, JSON.stringify(s.failed));
    store.refreshDerived();
    const events = [...store.events("WHERE source = 'wevt-template'")];
    assert.ok(events.length >= 53);
    assert.ok(
      events.every(
        (e) => e.provider.name === "Microsoft-Windows-Win32k" && e.provider.nameFrom === "registry",
      ),
    );
    store.close();
  });
});
