/**
 * Exports: Windows10EtwEvents-style TSV (one file per provider), one combined `events.tsv`, and
 * JSON Lines (one CatalogEvent per line). Row formatting comes from `format-w10.ts` (shared with
 * the manifest reader's tests); this module groups, orders, de-duplicates and writes files.
 *
 * Conventions copied from the Windows10EtwEvents repository (checked against its 26H1 TSVs):
 * a header line; tab separated; no quoting; rows sorted by event id then version (MOF: by class
 * GUID first); file name = provider name with spaces -> "_" and ":" -> "-".
 * Windows10EtwEvents leaves `evtlog_channel`/`evtlog_message` empty in every row we have; we fill
 * them (channel name, message with tabs/newlines flattened) — same columns, more content.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { basename, join } from "node:path";
import {
  formatManifestRowW10,
  formatMofRowW10,
  tsvCell,
  W10_MANIFEST_COLUMNS,
  W10_MOF_COLUMNS,
  w10EventSignature,
} from "./format-w10.js";
import type { CatalogEvent } from "./model.js";
import { stripWin, w10DisplayName } from "./naming.js";
import type { CatalogStore } from "./store.js";

/** A cell: no tabs or line breaks (TSV has no quoting). */
export function cell(text: string | number | undefined | null): string {
  return tsvCell(text ?? undefined);
}

export const COMBINED_HEADER = [
  "kind",
  "provider",
  "guid",
  "event_id",
  "version",
  "event(fields)",
  "opcode",
  "keywords",
  "keyword_mask",
  "task",
  "level",
  "channel",
  "message",
  "source",
  "build",
  "file",
];

export function combinedRow(ev: CatalogEvent): string[] {
  return [
    ev.kind,
    cell(ev.provider.name),
    ev.provider.guid,
    String(ev.id),
    String(ev.version),
    cell(w10EventSignature(ev)),
    cell(w10DisplayName(ev.opcode)),
    cell(ev.keywords.names.join(" ")),
    ev.keywords.mask,
    cell(w10DisplayName(ev.task)),
    cell(stripWin(ev.level?.name)),
    cell(ev.channel?.name),
    cell(ev.message),
    ev.provenance.source,
    cell(ev.provenance.build),
    cell(ev.provenance.file),
  ];
}

/** Windows10EtwEvents file name for a provider (spaces → "_", ":" and path characters → "-"). */
export function w10FileName(provider: string): string {
  const base = provider
    .replace(/ /g, "_")
    .replace(/[:/\\*?"<>|\u0000-\u001f]/g, "-")
    .replace(/^\.+/, "_");
  return `${base || "_unnamed"}.tsv`;
}

const byIdVersion = (a: CatalogEvent, b: CatalogEvent) => a.id - b.id || a.version - b.version;
const byMofOrder = (a: CatalogEvent, b: CatalogEvent) =>
  (a.mof?.classGuid ?? "").localeCompare(b.mof?.classGuid ?? "") || byIdVersion(a, b);

/** The lines of one provider file (header first), duplicates (same row from two files) removed. */
export function w10ProviderLines(events: CatalogEvent[]): string[] {
  const mof = events.length > 0 && events.every((e) => e.kind === "mof");
  const sorted = [...events].sort(mof ? byMofOrder : byIdVersion);
  const lines = [(mof ? W10_MOF_COLUMNS : W10_MANIFEST_COLUMNS).join("\t")];
  const seen = new Set<string>();
  for (const ev of sorted) {
    const line = (mof ? formatMofRowW10(ev) : formatManifestRowW10(ev)).join("\t");
    if (seen.has(line)) continue;
    seen.add(line);
    lines.push(line);
  }
  return lines;
}

export interface ExportSummary {
  files: number;
  events: number;
  dir: string;
}

/** Relative path of a provider's TSV: `[<build>/]<kind>/<Provider>.tsv`. */
function providerFile(ev: Pick<CatalogEvent, "kind" | "provider" | "provenance">, perBuild: boolean): string {
  const dir = perBuild ? join(ev.provenance.build || "unknown-build", ev.kind) : ev.kind;
  // TraceLogging events not yet tied to a provider (no name, no GUID) are kept per binary.
  const name = ev.provider.name || ev.provider.guid || `unassociated_${basename(ev.provenance.file)}`;
  return join(dir, w10FileName(name));
}

/** Writes provider files; names differing only in letter case get a `~N` suffix (case-insensitive file systems). */
function writeProviderFiles(outDir: string, groups: Iterable<[string, () => CatalogEvent[]]>): number {
  const lowerSeen = new Map<string, number>();
  let files = 0;
  for (const [rel, load] of groups) {
    const lower = rel.toLowerCase();
    const n = lowerSeen.get(lower) ?? 0;
    lowerSeen.set(lower, n + 1);
    const target = n === 0 ? rel : rel.replace(/\.tsv$/, `~${n}.tsv`);
    mkdirSync(join(outDir, target, ".."), { recursive: true });
    writeFileSync(join(outDir, target), w10ProviderLines(load()).join("\n") + "\n");
    files++;
  }
  return files;
}

/**
 * TSV export of events in memory: `<out>/[<build>/]<kind>/<Provider>.tsv` plus `<out>/events.tsv`.
 * The build level is added only when the events span more than one Windows build, so one-build
 * catalogs mirror the Windows10EtwEvents tree (`manifest/`, `mof/`, and here also `tracelogging/`, `wpp/`).
 */
export function exportTsv(events: Iterable<CatalogEvent>, outDir: string): ExportSummary {
  const all = [...events];
  const perBuild = new Set(all.map((e) => e.provenance.build ?? "")).size > 1;
  const groups = new Map<string, CatalogEvent[]>();
  for (const ev of all) {
    const key = providerFile(ev, perBuild);
    const list = groups.get(key);
    if (list) list.push(ev);
    else groups.set(key, [ev]);
  }
  mkdirSync(outDir, { recursive: true });
  const files = writeProviderFiles(
    outDir,
    [...groups].map(([k, evs]) => [k, () => evs] as [string, () => CatalogEvent[]]),
  );
  writeCombined(all, join(outDir, "events.tsv"));
  return { files: files + 1, events: all.length, dir: outDir };
}

/** The same export straight from a catalog, one provider at a time (memory stays small). */
export function exportStoreTsv(store: CatalogStore, outDir: string): ExportSummary {
  const db = store.db;
  const perBuild =
    (db.prepare("SELECT count(DISTINCT coalesce(build, '')) AS n FROM events").get() as { n: number }).n > 1;
  const providers = db
    .prepare(
      `SELECT DISTINCT e.kind, coalesce(e.build, '') AS build, e.provider_name AS name, e.provider_guid AS guid,
         CASE WHEN e.provider_name = '' AND e.provider_guid = '' THEN e.file_id ELSE 0 END AS anon,
         CASE WHEN e.provider_name = '' AND e.provider_guid = '' THEN f.path ELSE '' END AS file
       FROM events e JOIN files f ON f.id = e.file_id ORDER BY 1, 2, 3 COLLATE NOCASE, 4, 5`,
    )
    .all() as Array<{ kind: string; build: string; name: string; guid: string; anon: number; file: string }>;
  const groups = new Map<string, typeof providers>();
  for (const p of providers) {
    const key = providerFile(
      {
        kind: p.kind as CatalogEvent["kind"],
        provider: p,
        provenance: { file: p.file, source: "manifest-xml", build: p.build },
      },
      perBuild,
    );
    const list = groups.get(key);
    if (list) list.push(p);
    else groups.set(key, [p]);
  }
  mkdirSync(outDir, { recursive: true });
  const load = (list: typeof providers) => () =>
    list.flatMap((p) => [
      ...store.events(
        "WHERE kind = ? AND coalesce(build, '') = ? AND provider_name = ? AND provider_guid = ? AND (? = 0 OR file_id = ?)",
        [p.kind, p.build, p.name, p.guid, p.anon, p.anon],
      ),
    ]);
  const files = writeProviderFiles(
    outDir,
    [...groups].map(([k, list]) => [k, load(list)] as [string, () => CatalogEvent[]]),
  );
  const events = writeCombined(store.events(), join(outDir, "events.tsv"));
  return { files: files + 1, events, dir: outDir };
}

function writeCombined(events: Iterable<CatalogEvent>, file: string): number {
  const fd = openSync(file, "w");
  let count = 0;
  try {
    writeSync(fd, COMBINED_HEADER.join("\t") + "\n");
    for (const ev of events) {
      writeSync(fd, combinedRow(ev).join("\t") + "\n");
      count++;
    }
  } finally {
    closeSync(fd);
  }
  return count;
}

/** JSON Lines export: one CatalogEvent per line, in catalog order. */
export function exportJsonl(events: Iterable<CatalogEvent>, outFile: string): ExportSummary {
  const fd = openSync(outFile, "w");
  let count = 0;
  try {
    for (const ev of events) {
      writeSync(fd, JSON.stringify(ev) + "\n");
      count++;
    }
  } finally {
    closeSync(fd);
  }
  return { files: 1, events: count, dir: outFile };
}
