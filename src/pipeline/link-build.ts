/**
 * Orchestration of build-wide linking: reads the images of one or more folders, analyses each
 * x64 image once, keeps a small summary per module (the decoded code is dropped), groups the
 * modules by Windows build, links each build (with its own apisetschema.dll when present) and
 * computes the cross-module paths from entry APIs to write sites.
 */
import { readFileSync, statSync } from "node:fs";
import { type AnalysisReport, analyzeImage } from "../analysis/analyze.js";
import { type LinkedBuild, linkModules } from "../analysis/link/linker.js";
import { type ModuleSummary, summarizeModule } from "../analysis/link/module.js";
import { type ReachOptions, type ReachResult, reachAcrossModules } from "../analysis/link/paths.js";
import { windowsBuild } from "../catalog/readers/pe.js";
import type { CatalogStore } from "../catalog/store.js";
import { type ApiSetSchema, readApiSetSchema } from "../formats/apiset/index.js";
import { looksLikePe, type PeImage, parsePe } from "../formats/pe/index.js";
import { linkedBuilds, loadApiSetSchema, loadModules, storeLinks } from "./link-store.js";
import { ownCatalog } from "./own-catalog.js";

/** Key of modules whose build is unknown: they link only among themselves. */
export const UNKNOWN_BUILD = "";

export interface BuildInput {
  build: string;
  modules: ModuleSummary[];
  /** The build's apisetschema.dll, when one of its files has a `.apiset` section. */
  schema?: { file: string; schema: ApiSetSchema };
}

export interface ReadOutcome {
  path: string;
  status: "module" | "schema" | "skipped" | "failed";
  reason?: string;
}

export interface ModuleCollector {
  /** Adds an analysed image (from a scan that already ran the analysis). */
  addReport(path: string, pe: PeImage, report: AnalysisReport): void;
  /** Adds the API-set schema of an image, if it has one; true when it had. */
  addSchema(path: string, pe: PeImage): boolean;
  builds(): BuildInput[];
}

export function moduleCollector(): ModuleCollector {
  const byBuild = new Map<string, BuildInput>();
  const get = (b: string): BuildInput => {
    let x = byBuild.get(b);
    if (!x) {
      x = { build: b, modules: [] };
      byBuild.set(b, x);
    }
    return x;
  };
  return {
    addReport(path, pe, report) {
      const build = windowsBuild(pe, path) ?? UNKNOWN_BUILD;
      get(build).modules.push(summarizeModule(path, report, build || undefined));
    },
    addSchema(path, pe) {
      const hasSection = pe.sections.some((s) => s.name === ".apiset");
      if (!hasSection) return false;
      const schema = readApiSetSchema(pe)!;
      const b = get(windowsBuild(pe, path) ?? UNKNOWN_BUILD);
      b.schema ??= { file: path, schema };
      return true;
    },
    builds: () => [...byBuild.values()].filter((b) => b.modules.length > 0),
  };
}

/** Analyses each image of `paths` into a collector (no catalog store involved). */
export function readBuildFiles(
  paths: string[],
  collector = moduleCollector(),
): { collector: ModuleCollector; outcomes: ReadOutcome[] } {
  const outcomes: ReadOutcome[] = [];
  for (const path of paths) {
    try {
      if (statSync(path).size > 64 * 2 ** 20) {
        outcomes.push({ path, status: "skipped", reason: "over 64 MiB" });
        continue;
      }
      const bytes = new Uint8Array(readFileSync(path));
      if (!looksLikePe(bytes)) {
        outcomes.push({ path, status: "skipped", reason: "not a PE image" });
        continue;
      }
      const pe = parsePe(bytes);
      if (collector.addSchema(path, pe)) {
        outcomes.push({ path, status: "schema" });
        continue;
      }
      if (pe.headers.machineName !== "x64") {
        outcomes.push({ path, status: "skipped", reason: `${pe.headers.machineName} image` });
        continue;
      }
      const report = analyzeImage(pe, { catalog: ownCatalog(pe, path, bytes) });
      collector.addReport(path, pe, report);
      outcomes.push({ path, status: "module" });
    } catch (err) {
      outcomes.push({ path, status: "failed", reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return { collector, outcomes };
}

export interface BuildReach {
  build: string;
  linked: LinkedBuild;
  reach: ReachResult;
  schemaFile?: string;
}

export function linkAndReach(input: BuildInput, options: ReachOptions = {}): BuildReach {
  const linked = linkModules(input.modules, input.schema?.schema);
  const out: BuildReach = { build: input.build, linked, reach: reachAcrossModules(linked, options) };
  if (input.schema) out.schemaFile = input.schema.file;
  return out;
}

export interface LinkSummary {
  build: string;
  modules: number;
  links: number;
  unresolved: number;
  apiSetSource: "schema" | "unique-exporter";
  schemaFile?: string;
  ms: number;
}

/** Links the stored modules of one build (with its stored API-set schema, if any). */
export function linkStoredBuild(
  store: CatalogStore,
  build: string,
): { input: BuildInput; linked: LinkedBuild } {
  const input: BuildInput = { build, modules: loadModules(store, build) };
  const schema = loadApiSetSchema(store, build);
  if (schema) input.schema = schema;
  return { input, linked: linkModules(input.modules, input.schema?.schema) };
}

/** Re-links every build of the catalog and stores its link records. */
export function linkBuildsInStore(store: CatalogStore): LinkSummary[] {
  const out: LinkSummary[] = [];
  for (const { build } of linkedBuilds(store)) {
    const t0 = performance.now();
    const { input, linked } = linkStoredBuild(store, build);
    storeLinks(store, build, linked.links);
    const s: LinkSummary = {
      build,
      modules: input.modules.length,
      links: linked.links.length,
      unresolved: linked.links.filter((l) => l.unresolved).length,
      apiSetSource: linked.apiSetSource,
      ms: performance.now() - t0,
    };
    if (input.schema) s.schemaFile = input.schema.file;
    out.push(s);
  }
  return out;
}
