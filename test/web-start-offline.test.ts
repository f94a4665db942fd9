// `npm start` on a machine without ../shared and without network after `npm ci` (issue 11): the
// built CLI runs from a copy of the repository layout (dist/, fixtures/, package.json and a
// node_modules link) in a temporary directory that has no ../shared, with a registry URL that cannot
// resolve, an `npm` on PATH that records any call and fails, and a preloaded guard that records every
// DNS lookup and every socket connection to a host other than 127.0.0.1. It must still serve
// manifest, TraceLogging and code-site content, from the sample committed in fixtures/.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { repoRoot } from "./helpers/corpus.js";

let dir: string;
let repo: string;
let netLog: string;
let npmLog: string;

const GUARD = `
import dns from "node:dns";
import net from "node:net";
import { syncBuiltinESMExports } from "node:module";
import { appendFileSync } from "node:fs";
const log = (line) => appendFileSync(process.env.NET_GUARD_LOG, line + "\\n");
const local = (h) => h === undefined || h === "127.0.0.1" || h === "localhost" || h === "::1";
for (const name of ["lookup", "resolve", "resolve4", "resolve6"]) {
  const orig = dns[name];
  dns[name] = function (host, ...rest) {
    if (!local(host)) log(\`dns.\${name} \${host}\`);
    return orig.call(this, host, ...rest);
  };
}
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const o = Array.isArray(args[0]) ? args[0][0] : typeof args[0] === "object" ? args[0] : { port: args[0], host: args[1] };
  if (o && !o.path && !local(o.host)) log(\`connect \${o.host}:\${o.port}\`);
  return connect.apply(this, args);
};
syncBuiltinESMExports();
`;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "etw-atlas-offline-"));
  repo = join(dir, "etw-atlas");
  mkdirSync(repo);
  // What `npm ci && npm run build` leaves, without ../shared beside it.
  cpSync(join(repoRoot, "dist", "src"), join(repo, "dist", "src"), { recursive: true });
  cpSync(join(repoRoot, "fixtures"), join(repo, "fixtures"), { recursive: true });
  cpSync(join(repoRoot, "package.json"), join(repo, "package.json"));
  symlinkSync(realpathSync(join(repoRoot, "node_modules")), join(repo, "node_modules"));
  assert.equal(existsSync(join(dir, "shared")), false);
  const bin = join(dir, "bin");
  mkdirSync(bin);
  npmLog = join(dir, "npm-calls.log");
  netLog = join(dir, "net.log");
  writeFileSync(join(bin, "npm"), `#!/bin/sh\necho "npm $*" >> '${npmLog}'\nexit 1\n`);
  chmodSync(join(bin, "npm"), 0o755);
  writeFileSync(join(dir, "guard.mjs"), GUARD);
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  return (await res.json()) as T;
}

describe("npm start offline, without ../shared", () => {
  test("serves manifest, TraceLogging and code-site content from the committed sample, never the network", async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${join(dir, "bin")}:${process.env.PATH ?? ""}`,
      npm_config_registry: "http://unresolvable.invalid/",
      NET_GUARD_LOG: netLog,
    };
    delete env.ETW_ATLAS_CORPUS; // the tests' own corpus location must not leak into `start`
    const child: ChildProcess = spawn(
      process.execPath,
      [
        "--import",
        pathToFileURL(join(dir, "guard.mjs")).href,
        join(repo, "dist", "src", "cli.js"),
        "start",
        "--port",
        "0",
      ],
      { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] },
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
        child.stdout!.on("data", () => {
          const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(stdout);
          if (m) resolve(m[0]);
        });
        child.on("exit", (code) => reject(new Error(`start exited (${code}) before serving: ${stderr}`)));
      });
      assert.match(stderr, /no \.\.\/shared\/corpus here; using the sample committed in .*fixtures/);
      assert.doesNotMatch(stderr, /fetching|npm pack/);

      const summary = await getJson<{ kinds: Record<string, number>; sites: number; events: number }>(
        `${url}api/summary`,
      );
      assert.ok((summary.kinds.manifest ?? 0) >= 6, JSON.stringify(summary.kinds));
      assert.ok((summary.kinds.tracelogging ?? 0) > 0, JSON.stringify(summary.kinds));
      assert.ok(summary.sites > 0, "code sites were analysed");

      // Manifest events from the committed XML manifest, each joined to the write call in its binary.
      type Search = {
        rows: Array<{ name: string; kind: string; source: string; sites: number }>;
        total: number;
      };
      const user = await getJson<Search>(`${url}api/search?provider=EtwAtlas-Sample-User`);
      assert.deepEqual(user.rows.map((r) => r.name).sort(), [
        "FixtureErrorEvent",
        "FixtureStartEvent",
        "FixtureStopEvent",
      ]);
      for (const r of user.rows) {
        assert.equal(r.kind, "manifest");
        assert.equal(r.source, "manifest-xml");
        assert.equal(r.sites, 1, `${r.name}: its EventWrite call in user_etw.dll`);
      }
      const driver = await getJson<Search>(`${url}api/search?provider=EtwAtlas-Sample-Driver`);
      assert.equal(driver.total, 3);
      assert.ok(driver.rows.every((r) => r.sites >= 1));

      const tl = await getJson<Search>(`${url}api/search?kind=tracelogging`);
      assert.ok(tl.total > 0);
      assert.ok(
        tl.rows.some((r) => r.sites > 0),
        "a TraceLogging event with its write site",
      );
      const named = await getJson<Search>(`${url}api/search?provider=Atlas.Sites.Alpha`);
      assert.ok(named.total > 0, "TraceLogging provider of tracelogging_sites.dll");

      type Sites = { rows: Array<{ file: string; eventName: string; providerName: string }>; total: number };
      const sites = await getJson<Sites>(`${url}api/sites?file=user_etw.dll`);
      assert.ok(sites.total >= 3);
      assert.deepEqual([...new Set(sites.rows.map((s) => s.eventName))].sort(), [
        "FixtureErrorEvent",
        "FixtureStartEvent",
        "FixtureStopEvent",
      ]);
      const kernelSites = await getJson<Sites>(`${url}api/sites?provider=8c5e7a10`);
      assert.ok(kernelSites.total >= 3);
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0, stderr);
    assert.equal(existsSync(npmLog) ? readFileSync(npmLog, "utf8") : "", "", "npm was never run");
    assert.equal(
      existsSync(netLog) ? readFileSync(netLog, "utf8") : "",
      "",
      "no DNS lookup, no outside connection",
    );
  });
});
