// The explorer in a real browser: playwright-core driving Debian's chromium (/usr/bin/chromium,
// installed by .ci/run). Loads the page, searches a Kernel-Process field, opens events, checks
// the code sites of a FilterManager event, copies a table, follows deep links and the diff view.
// Screenshots go to test-artifacts/web/ (gitignored) for a person to look at.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { type AtlasServer, startServer } from "../src/web/server.js";
import { repoRoot } from "./helpers/corpus.js";
import { buildTestCatalogs, KERNEL_PROCESS_10, type TestCatalogs } from "./helpers/web-catalog.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = join(repoRoot, "test-artifacts", "web");
const FILTER_MANAGER = "f3c5e28e-63f6-49c7-a204-e48a1bc4b09d";

let dir: string;
let cat: TestCatalogs;
let srv: AtlasServer;
let context: BrowserContext;
let page: Page;
const requested: string[] = [];
const pageErrors: string[] = [];

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
}

// biome-ignore lint/suspicious/noExplicitAny: API bodies are checked field by field
async function api(path: string): Promise<any> {
  return (await fetch(new URL(path, srv.url))).json();
}

before(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), "etw-atlas-web-browser-"));
  cat = buildTestCatalogs(dir);
  srv = await startServer({ dbPath: cat.dbPath, diffAgainst: cat.oldDbPath, port: 0 });
  context = await chromium.launchPersistentContext(join(dir, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1400, height: 900 },
  });
  context.on("request", (r) => requested.push(r.url()));
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(m.text());
  });
});

after(async () => {
  await context?.close();
  await srv?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("explorer in chromium", { timeout: 120_000 }, () => {
  test("the providers page loads with the catalog summary", async () => {
    await page.goto(srv.url);
    await page.locator('table[data-table="providers"] tbody tr').first().waitFor();
    const names = await page
      .locator('table[data-table="providers"] tbody tr td:first-child')
      .allTextContents();
    assert.ok(names.includes("Microsoft-Windows-Kernel-Process"));
    assert.ok(names.includes("Microsoft-Windows-FilterManager"));
    const info = await page.locator("#catalog-info").textContent();
    const summary = await api("/api/summary");
    assert.match(info ?? "", new RegExp(`${summary.events} events`));
    assert.equal(
      await page.locator("#nav-diff").isVisible(),
      true,
      "diff link shown when --diff-against is given",
    );
    await shot("1-providers");
  });

  test("search by a Kernel-Process field name lists its events; the URL is a deep link", async () => {
    await page.click('header nav a[data-nav="search"]');
    await page.locator("#search-form").waitFor();
    await page.fill('#search-form input[name="field"]', "ParentProcessID");
    await page.click('#search-form button[type="submit"]');
    const rows = page.locator('table[data-table="search-results"] tbody tr');
    await rows.first().waitFor();
    const expected = await api("/api/search?field=ParentProcessID");
    assert.ok(expected.total > 0);
    assert.equal(await rows.count(), expected.rows.length);
    assert.match(page.url(), /#\/search\?field=ParentProcessID/);
    const xml = readFileSync(join(dir, "manifests", KERNEL_PROCESS_10), "utf8");
    assert.ok(xml.includes('name="ParentProcessID"'));
    const providers = await page
      .locator('table[data-table="search-results"] tbody tr td:first-child')
      .allTextContents();
    assert.ok(providers.every((p) => p === "Microsoft-Windows-Kernel-Process"));
    await shot("2-search-field");
  });

  test("opening an event shows its fields with types", async () => {
    await page.locator('table[data-table="search-results"] tbody tr td:nth-child(5) a').first().click();
    const fields = page.locator('table[data-table="event-fields"] tbody tr');
    await fields.first().waitFor();
    const parentRow = page.locator('table[data-table="event-fields"] tbody tr', {
      hasText: "ParentProcessID",
    });
    const cells = await parentRow.first().locator("td").allTextContents();
    assert.deepEqual(cells.slice(1, 3), ["ParentProcessID", "UInt32"]);
    assert.match(page.url(), /#\/event\/\d+$/);
    await shot("3-event-kernel-process");
  });

  test("a FilterManager event shows the code sites of fltMgr.sys with entry points and call paths", async () => {
    type Site = { file: string; rva: number; entry?: string; depth?: number; callPath: string[] };
    const prov = await api(`/api/provider?guid=${FILTER_MANAGER}`);
    // The event with the most sites reached from an entry point.
    let best: { rowid: number; reached: number; sites: Site[] } | undefined;
    for (const e of prov.events.filter((x: { sites: number }) => x.sites > 0)) {
      const ev = await api(`/api/event?rowid=${e.rowid}`);
      const reached = ev.sites.filter((s: Site) => s.entry).length;
      if (!best || reached > best.reached) best = { rowid: e.rowid, reached, sites: ev.sites };
    }
    assert.ok(best && best.reached > 0, "some FilterManager event is reached from an entry point");
    // What the page should show: each write call once; each entry point once, with its shallowest path.
    const writeCalls = new Set(best.sites.map((s) => `${s.file}@${s.rva}`));
    const shallowest = new Map<string, Site>();
    for (const s of best.sites) {
      const k = s.entry ?? `unreached ${s.rva}`;
      const had = shallowest.get(k);
      if (!had || (s.depth ?? 99) < (had.depth ?? 99)) shallowest.set(k, s);
    }
    // Navigate like a user: providers → FilterManager → the event.
    await page.goto(`${srv.url}#/`);
    await page.getByRole("link", { name: "Microsoft-Windows-FilterManager", exact: true }).click();
    await page.locator('table[data-table="provider-events"] tbody tr').first().waitFor();
    // Keyword and task tables: one row per manifest entry, its mask or value in the second column.
    const meta = prov.metadata[0] ?? {};
    assert.ok(meta.tasks?.length > 0, "the FilterManager manifest declares tasks");
    for (const [id, list, number] of [
      ["provider-keywords", meta.keywords ?? [], "mask"],
      ["provider-tasks", meta.tasks ?? [], "value"],
    ] as const) {
      const rows = page.locator(`table[data-table="${id}"] tbody tr`);
      assert.equal(await rows.count(), list.length, `${id} rows`);
      for (const [i, entry] of list.entries())
        assert.equal(
          ((await rows.nth(i).locator("td").nth(1).textContent()) ?? "").trim(),
          String(entry[number]),
        );
    }
    await page.locator(`table[data-table="provider-events"] a[href="#/event/${best.rowid}"]`).click();
    const entryRows = page.locator('table[data-table="event-sites"] tbody tr');
    await entryRows.first().waitFor();
    assert.equal(await page.locator('table[data-table="event-writes"] tbody tr').count(), writeCalls.size);
    assert.equal(await entryRows.count(), shallowest.size);
    const table = (await page.locator('table[data-table="event-sites"]').textContent()) ?? "";
    for (const s of shallowest.values()) {
      if (!s.entry) continue;
      assert.ok(table.includes(s.entry), `entry point ${s.entry} shown`);
      assert.ok(
        table.includes(s.callPath.join(" → ")),
        `shallowest call path of ${s.entry} shown as a chain`,
      );
    }
    assert.ok(table.includes("fltMgr.sys"));
    await page.locator('table[data-table="event-writes"]').scrollIntoViewIfNeeded();
    await shot("4-event-code-sites");

    // Copy TSV of the entry-point table: header + one line per row.
    await page.locator('section:has(table[data-table="event-sites"]) button[data-copy="tsv"]').click();
    await page.waitForFunction(
      () => typeof (globalThis as unknown as { lastCopied?: string }).lastCopied === "string",
    );
    const tsv = await page.evaluate(() => (globalThis as unknown as { lastCopied: string }).lastCopied);
    const lines = tsv.trimEnd().split("\n");
    assert.equal(lines[0]!.split("\t")[1], "Entry point");
    assert.equal(lines.length, shallowest.size + 1);
    // Copy JSON of the write-call table: every (entry point, site) row as the API gave it.
    await page.locator('section:has(table[data-table="event-writes"]) button[data-copy="json"]').click();
    await page.waitForFunction(() =>
      (globalThis as unknown as { lastCopied: string }).lastCopied.startsWith("["),
    );
    const json = JSON.parse(
      await page.evaluate(() => (globalThis as unknown as { lastCopied: string }).lastCopied),
    );
    assert.deepEqual(json, best.sites);

    // The same URL opened fresh (deep link) shows the same event.
    const url = page.url();
    const second = await context.newPage();
    await second.goto(url);
    await second.locator('table[data-table="event-sites"] tbody tr').first().waitFor();
    assert.equal(await second.locator('table[data-table="event-sites"] tbody tr').count(), shallowest.size);
    await second.close();
  });

  test("quick search box and the code sites and diff views", async () => {
    await page.fill("#quick-text", "FilterManager");
    await page.press("#quick-text", "Enter");
    await page.locator('table[data-table="search-results"] tbody tr').first().waitFor();
    assert.match(page.url(), /#\/search\?text=FilterManager/);

    await page.click('header nav a[data-nav="sites"]');
    await page.locator('table[data-table="sites"] tbody tr').first().waitFor();
    await shot("5-code-sites");

    await page.click('header nav a[data-nav="diff"]');
    await page.locator('table[data-table="diff"] tbody tr').first().waitFor();
    const diff = await api("/api/diff");
    assert.match(
      (await page.locator(".table-tools .muted").first().textContent()) ?? "",
      new RegExp(`of ${diff.total}`),
    );
    await shot("6-diff");
  });

  test("the page made no request to anything but the loopback server, and raised no errors", () => {
    assert.ok(requested.length > 5);
    const foreign = requested.filter((u) => {
      const { protocol, hostname } = new URL(u);
      return !(protocol === "data:" || hostname === "127.0.0.1");
    });
    assert.deepEqual(foreign, []);
    assert.deepEqual(pageErrors, []);
  });
});
