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
  cat = buildTestCatalogs(dir, { corpusManifests: true });
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
    acceptDownloads: true,
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

describe("explorer in chromium", { timeout: 900_000 }, () => {
  test("the providers page loads with the catalog summary", async () => {
    await page.goto(srv.url);
    await page.locator('table[data-table="providers"] tbody tr').first().waitFor();
    // The catalog's providers page by page (200 a page); the filter box finds the two we need.
    await page.fill('section[data-block="providers"] .table-filter', "Kernel-Process");
    const kp = await page.locator('table[data-table="providers"] tbody tr td:first-child').allTextContents();
    await page.fill('section[data-block="providers"] .table-filter', "FilterManager");
    const names = [
      ...kp,
      ...(await page.locator('table[data-table="providers"] tbody tr td:first-child').allTextContents()),
    ];
    assert.ok(names.includes("Microsoft-Windows-Kernel-Process"));
    assert.ok(names.includes("Microsoft-Windows-FilterManager"));
    // Source files relative to the root that was scanned: the unpacked manifest directory (e.g.
    // Manifests-Win10-17134/…), a file given by itself as its name — not tmp/…/all-manifests/….
    const fmRow = page
      .locator('table[data-table="providers"] tbody tr')
      .filter({ has: page.locator("td:first-child", { hasText: /^Microsoft-Windows-FilterManager$/ }) });
    if (await fmRow.locator("button.more").count()) await fmRow.locator("button.more").click();
    const files = await fmRow.locator(".chip.file").allTextContents();
    assert.ok(files.includes("Manifests-Win10-17134/Microsoft-Windows-FilterManager.xml"), files.join(", "));
    assert.ok(files.includes("Win10-17134_Microsoft-Windows-FilterManager.xml"), files.join(", "));
    assert.ok(
      files.every((f) => !f.includes("all-manifests") && !f.startsWith("tmp/") && !f.startsWith("/")),
      files.join(", "),
    );
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
    assert.deepEqual(
      providers,
      expected.rows.map((r: { provider: string }) => r.provider),
    );
    assert.ok(providers.includes("Microsoft-Windows-Kernel-Process"));
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
    // The file relative to its scan root (the full path in the title).
    const event = await api(`/api/event?rowid=${page.url().split("/").pop()}`);
    const fileCell = page.locator("dl.facts dt:text-is('File') + dd span").first();
    assert.equal(await fileCell.getAttribute("title"), event.file);
    const shownFile = (await fileCell.textContent()) ?? "";
    assert.ok(
      !shownFile.startsWith("/") && event.file.endsWith(`/${shownFile}`),
      `${shownFile} of ${event.file}`,
    );
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
    await page.goto(`${srv.url}#/?name=FilterManager`);
    await page.getByRole("link", { name: "Microsoft-Windows-FilterManager", exact: true }).click();
    await page.locator('table[data-table="provider-events"] tbody tr').first().waitFor();
    // Keyword and task tables: one row per distinct entry over every build's manifest, its mask or
    // value in the second column.
    type Entry = { name: string; mask?: string; value?: number };
    const distinct = (list: "keywords" | "tasks", number: "mask" | "value") => [
      ...new Set(
        (prov.metadata as Array<Record<string, Entry[] | undefined>>).flatMap((m) =>
          (m[list] ?? []).map((e) => `${e.name} ${e[number]}`),
        ),
      ),
    ];
    assert.ok(distinct("tasks", "value").length > 0, "the FilterManager manifests declare tasks");
    for (const [id, list, number] of [
      ["provider-keywords", "keywords", "mask"],
      ["provider-tasks", "tasks", "value"],
    ] as const) {
      const rows = page.locator(`table[data-table="${id}"] tbody tr`);
      const want = distinct(list, number);
      assert.equal(await rows.count(), want.length, `${id} rows`);
      const shown = await rows.evaluateAll((rs) =>
        rs.map((r) => `${r.children[0]?.textContent} ${r.children[1]?.textContent}`),
      );
      assert.deepEqual([...shown].sort(), [...want].sort());
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
      new RegExp(`${diff.total} entries`),
    );
    await shot("6-diff");
  });

  test("results grid at 1280 px: ProcessStartKey rows at most 300 px tall, Fields at least as wide as Name", async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${srv.url}#/search?field=ProcessStartKey`);
    const rows = page.locator('table[data-table="search-results"] tbody tr');
    await rows.first().waitFor();
    const heights = await rows.evaluateAll((rs) => rs.map((r) => r.getBoundingClientRect().height));
    assert.ok(heights.length > 0);
    assert.ok(Math.max(...heights) <= 300, `tallest row ${Math.max(...heights)} px`);
    const width = (label: string) =>
      page
        .locator('table[data-table="search-results"] th', { hasText: label })
        .first()
        .evaluate((th) => th.getBoundingClientRect().width);
    const fields = await width("Fields");
    const name = await width("Name");
    assert.ok(fields >= name, `Fields ${fields} px, Name ${name} px`);
    // Fields are chips, one per field.
    assert.ok((await rows.first().locator(".chip").count()) > 3);
    await shot("7-grid-1280");
    for (const w of [900, 2560]) {
      await page.setViewportSize({ width: w, height: 900 });
      const h = await rows.evaluateAll((rs) => rs.map((r) => r.getBoundingClientRect().height));
      assert.ok(Math.max(...h) <= 400, `at ${w} px the tallest row is ${Math.max(...h)} px`);
      const right = await page
        .locator('table[data-table="search-results"] th', { hasText: "Fields" })
        .first()
        .evaluate((th) => th.getBoundingClientRect().right);
      assert.ok(right <= w, `at ${w} px the Fields column ends at ${right} px, on screen`);
      await shot(`7-grid-${w}`);
    }
    await page.setViewportSize({ width: 1400, height: 900 });
  });

  test("sorting by a column (server side) and paging to the last page", async () => {
    await page.goto(`${srv.url}#/search?kind=manifest`);
    await page.locator('table[data-table="search-results"] tbody tr').first().waitFor();
    await page.locator('table[data-table="search-results"] th a', { hasText: "Name" }).click();
    await page.waitForURL(/sort=name/);
    await page.locator('table[data-table="search-results"] tbody tr').first().waitFor();
    const names = await page
      .locator('table[data-table="search-results"] tbody tr td:nth-child(5)')
      .allTextContents();
    const sorted = [...names].sort((a, b) => a.localeCompare(b, "en", { sensitivity: "base" }));
    assert.deepEqual(
      names.map((n) => n.toLowerCase()),
      sorted.map((n) => n.toLowerCase()),
    );
    const total = (await api("/api/search?kind=manifest")).total as number;
    assert.ok(total > 200, `${total} rows need more than one page`);
    await page.locator(".pager a", { hasText: "last" }).first().click();
    await page.waitForURL(/offset=/);
    await page.locator('table[data-table="search-results"] tbody tr').first().waitFor();
    const range = (await page.locator(".pager .range").first().textContent()) ?? "";
    assert.match(range, new RegExp(`–${total} of ${total}$`));
    // An offset past the end says so and links to the last page.
    await page.goto(`${srv.url}#/search?kind=manifest&offset=1000000`);
    await page.locator("#past-end").waitFor();
    assert.match((await page.locator("#past-end").textContent()) ?? "", /past the end/);
  });

  test("client-side sort and filter box on the provider's events", async () => {
    await page.goto(`${srv.url}#/provider?kind=manifest&guid=${FILTER_MANAGER}`);
    const rows = page.locator('table[data-table="provider-events"] tbody tr');
    await rows.first().waitFor();
    const idHeader = page.locator('table[data-table="provider-events"] th button').nth(2);
    assert.equal(await idHeader.textContent(), "Id");
    await idHeader.click();
    await idHeader.click(); // descending
    assert.equal(await idHeader.textContent(), "Id ▼");
    const ids = (
      await page.locator('table[data-table="provider-events"] tbody tr td:nth-child(3)').allTextContents()
    ).map(Number);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => b - a),
    );
    const before = await rows.count();
    await page.fill('section[data-block="provider-events"] .table-filter', "zzzz-no-such-row");
    assert.equal(await rows.count(), 0);
    await page.fill('section[data-block="provider-events"] .table-filter', "");
    assert.equal(await rows.count(), before);
  });

  test("download of the whole result: every row, not the page (a 100k-row result)", async () => {
    const total = (await api("/api/search?kind=manifest")).total as number;
    assert.ok(total >= 100_000, `${total} manifest events in the corpus catalog`);
    await page.goto(`${srv.url}#/search?kind=manifest`);
    await page.locator('table[data-table="search-results"] tbody tr').first().waitFor();
    const fetched = async (format: string) => {
      const [download] = await Promise.all([
        page.waitForEvent("download", { timeout: 180_000 }),
        page.locator(`a[data-download="${format}"]`).first().click(),
      ]);
      const file = join(dir, `download.${format}`);
      await download.saveAs(file);
      return readFileSync(file, "utf8").split(/\r?\n/).filter(Boolean);
    };
    for (const format of ["tsv", "csv"]) {
      const lines = await fetched(format);
      assert.equal(lines.length, total + 1, `${format}: header + every row`);
      assert.match(lines[0]!, /^kind[\t,]provider[\t,]guid/);
    }
    // JSON Lines (full records) of a smaller result: one build.
    await page.goto(`${srv.url}#/search?build=6.1.7600`);
    await page.locator('table[data-table="search-results"] tbody tr').first().waitFor();
    const lines = await fetched("jsonl");
    assert.equal(lines.length, (await api("/api/search?build=6.1.7600")).total);
    const first = JSON.parse(lines[0]!);
    assert.equal(first.provenance.build, "6.1.7600");
    assert.ok(Array.isArray(first.fields));
  });

  test("build filter: search and provider page show one build", async () => {
    const summary = await api("/api/summary");
    const build = (summary.builds as Array<{ build: string }>).map((b) => b.build).find(Boolean)!;
    await page.goto(`${srv.url}#/search`);
    await page.selectOption('#search-form select[name="build"]', build);
    await page.click('#search-form button[type="submit"]');
    await page.waitForURL(new RegExp(`build=${build}`));
    await page.locator('table[data-table="search-results"] tbody tr').first().waitFor();
    const builds = await page
      .locator('table[data-table="search-results"] tbody tr td:nth-child(12)')
      .allTextContents();
    assert.ok(builds.length > 0 && builds.every((b) => b === build));
    assert.equal(
      (await api(`/api/search?build=${build}`)).total,
      (await api(`/api/search?build=${build}&limit=1`)).total,
    );
  });

  test("build filter on the code-sites view: other rows, every one of the chosen build", async () => {
    const summary = await api("/api/summary");
    const siteBuilds = summary.siteBuilds as Array<{ build: string; sites: number }>;
    assert.ok(siteBuilds.length >= 2, "the catalog has code sites of two builds (fltMgr.sys, csrsrv.dll)");
    const all = (await api("/api/sites?limit=1")).total as number;
    const cells = async (label: string) => {
      const headers = await page.locator('table[data-table="sites"] thead th').allTextContents();
      const i = headers.findIndex((h) => h.replace(/[▲▼↑↓\s]+$/u, "").trim() === label);
      assert.ok(i >= 0, `column ${label} in ${headers.join("|")}`);
      return page.locator(`table[data-table="sites"] tbody tr td:nth-child(${i + 1})`).allTextContents();
    };
    await page.goto(`${srv.url}#/sites`);
    await page.locator('table[data-table="sites"] tbody tr').first().waitFor();
    assert.match(
      (await page.locator(".table-tools .muted").first().textContent()) ?? "",
      new RegExp(`^${all} rows`),
    );
    const before = new Set(await cells("Binary"));
    // The smaller build: all of its rows fit in one page.
    const { build, sites } = [...siteBuilds].sort((a, b) => a.sites - b.sites)[0]!;
    assert.ok(sites < all);
    await page.selectOption('#sites-form select[name="build"]', build);
    await page.click('#sites-form button[type="submit"]');
    await page.waitForURL(new RegExp(`#/sites\\?.*build=${build.replace(/\./g, "\\.")}`));
    await page
      .locator(".table-tools .muted", { hasText: new RegExp(`^${sites} rows`) })
      .first()
      .waitFor();
    const builds = await cells("Build");
    assert.equal(builds.length, sites, "one page holds the build's rows");
    assert.ok(
      builds.every((b) => b === build),
      `every row of build ${build}: ${[...new Set(builds)].join(", ")}`,
    );
    const after = new Set(await cells("Binary"));
    assert.notDeepEqual([...after].sort(), [...before].sort(), "filtering changed the rows");
    assert.equal(
      await page.locator('#sites-form select[name="build"]').inputValue(),
      build,
      "the selector keeps the chosen build",
    );
    await shot("13-sites-build");
    // The download link of the filtered view carries the build.
    const href = await page
      .locator('section[data-block="sites"] a[href*="/api/download"]')
      .first()
      .getAttribute("href");
    assert.match(href ?? "", new RegExp(`build=${build.replace(/\./g, "\\.")}`));
  });

  test("MOF class tree: category with class GUID, group and enable flag, classes, event types", async () => {
    await page.goto(`${srv.url}#/provider?kind=mof&name=Windows%20Kernel%20Trace`);
    const tree = page.locator('[data-block="mof-classes"]');
    await tree.waitFor();
    const process = tree.locator('li[data-category="Process"]');
    await process.locator("summary").click();
    const text = (await process.textContent()) ?? "";
    assert.match(text, /\{3d6fa8d0-fe05-11d0-9dda-00c04fd7ba7c\}/, "Process class GUID");
    assert.match(text, /enable PROCESS 0x00000001/);
    assert.match(text, /Process_V2_TypeGroup1/);
    assert.match(text, /type 1 Process_Start/);
    await shot("8-mof-class-tree");
    // Same event = same class + type: Process_Start's related events are never Thread_Start.
    await process.getByRole("link", { name: "Process_Start" }).first().click();
    await page.locator('table[data-table="event-fields"]').waitFor();
    const related = await page
      .locator('table[data-table="event-related"] tbody tr td:nth-child(5)')
      .allTextContents();
    // Other versions of the class (Process_Start_V1…) are the same event; Thread_Start is not.
    assert.ok(
      related.length > 0 && related.every((n) => /^Process_Start(_V\d+)?$/.test(n)),
      related.join(","),
    );
  });

  test("search syntax: phrase, prefix, OR, NOT — same counts as the API, matches highlighted; errors inline", async () => {
    for (const text of [
      '"process start"',
      "proc*",
      "ProcessStartKey OR ImageName",
      "process NOT thread",
      "process -thread",
    ]) {
      await page.goto(`${srv.url}#/search?text=${encodeURIComponent(text)}`);
      await page.locator('table[data-table="search-results"] tbody tr').first().waitFor();
      const expected = await api(`/api/search?text=${encodeURIComponent(text)}`);
      assert.ok(expected.total > 0, `${text} finds something`);
      assert.match(
        (await page.locator(".table-tools .count").first().textContent()) ?? "",
        new RegExp(`^${expected.total} events`),
      );
      assert.ok(
        (await page.locator('table[data-table="search-results"] mark').count()) > 0,
        `${text} highlighted`,
      );
    }
    const not = await api("/api/search?text=process%20NOT%20thread");
    const all = await api("/api/search?text=process");
    assert.ok(not.total < all.total);
    await page.goto(`${srv.url}#/search?text=${encodeURIComponent('"process start"')}`);
    await shot("9-search-phrase");
    // Unsupported syntax and oversized queries: a message above the form, which stays.
    await page.goto(`${srv.url}#/search?text=a%20NEAR%20b`);
    await page.locator("p.error").waitFor();
    assert.match((await page.locator("p.error").textContent()) ?? "", /NEAR.*not supported.*supported:/);
    assert.equal(await page.locator("#search-form").count(), 1);
    await page.goto(`${srv.url}#/search?text=${"x".repeat(20000)}`);
    await page.locator("p.error").waitFor();
    assert.match((await page.locator("p.error").textContent()) ?? "", /20,000 characters long; at most 1000/);
    assert.equal(await page.locator("#search-form").count(), 1);
    await shot("10-search-error");
  });

  test("diff of two builds inside one catalog; / focuses search; dark mode", async () => {
    await page.goto(`${srv.url}#/diff?oldBuild=6.1.7600&newBuild=10.0.10240&subject=provider`);
    await page.locator('table[data-table="diff"] tbody tr').first().waitFor();
    assert.match((await page.locator("h1").textContent()) ?? "", /build 6\.1\.7600 → build 10\.0\.10240/);
    const d = await api("/api/diff?oldBuild=6.1.7600&newBuild=10.0.10240&subject=provider");
    assert.ok(d.total > 0);
    assert.match(
      (await page.locator(".table-tools .count").first().textContent()) ?? "",
      new RegExp(`^${d.total} entries`),
    );
    await shot("12-diff-builds");
    await page.goto(`${srv.url}#/`);
    await page.locator('table[data-table="providers"] tbody tr').first().waitFor();
    await page.keyboard.press("/");
    assert.equal(await page.evaluate("document.activeElement && document.activeElement.id"), "quick-text");
    await page.emulateMedia({ colorScheme: "dark" });
    const bg = await page.evaluate("getComputedStyle(document.documentElement).backgroundColor");
    assert.notEqual(bg, "rgb(255, 255, 255)");
    await shot("11-home-dark");
    await page.emulateMedia({ colorScheme: "light" });
  });

  test("the page made no request to anything but the loopback server, and raised no errors", () => {
    assert.ok(requested.length > 5);
    // Expected errors: the two refused searches above (400 from the API, logged by the browser).
    const unexpected = pageErrors.filter((e) => !/status of 400/.test(e));
    pageErrors.length = 0;
    pageErrors.push(...unexpected);
    const foreign = requested.filter((u) => {
      const { protocol, hostname } = new URL(u);
      return !(protocol === "data:" || hostname === "127.0.0.1");
    });
    assert.deepEqual(foreign, []);
    assert.deepEqual(pageErrors, []);
  });
});
