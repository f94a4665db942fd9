import type { Command } from "commander";
import { FORMATS } from "../../analysis/report.js";
import { readInput } from "../input.js";
import { chooseJitTiers } from "../jit-tiers.js";
import { exitQuietlyOnClosedPipe } from "../pipe.js";
import { loadAnalyzeRun } from "./analyze-load.js";
import type { AnalyzeCliOptions } from "./analyze-run.js";

export function register(program: Command): void {
  program
    .command("analyze")
    .description("Find ETW write sites in an x64 binary and the entry points that reach them")
    .argument("<pe>", "x64 PE file (driver, DLL, EXE)")
    .option("--pdb <file>", "matching PDB: symbol names, Nt* entry points, descriptor/handle symbols")
    .option(
      "--symbols <path>",
      "find the matching PDB on a symbol path (_NT_SYMBOL_PATH syntax: dirs, stores)",
    )
    .option("--entry <name...>", "only these entry points")
    .option("--max-depth <n>", "longest call path in functions", "8")
    .option("--format <format>", FORMATS.join(" | "), "table")
    .option("--shallowest", "per entry point, keep only the shallowest site of each event")
    .option("--no-unreached", "omit sites that no entry point reaches")
    .option("--no-conditions", "skip the guard conditions of each site (conditions / logged)")
    .option(
      "--kernel-names <dir>",
      "directory with perfinfo-group-masks.tsv, perfinfo-log-types.tsv, event-trace-groups.tsv (names for EtwTraceKernelEvent constants)",
    )
    .option(
      "--mof <file...>",
      "MOF files (e.g. wmicore.mof) naming EtwTraceKernelEvent hook ids by class and event type",
    )
    .option(
      "--db <file>",
      "catalog database: names events of providers the image does not describe, and stores the rows as code sites (replacing this file's)",
    )
    .option("-q, --quiet", "no progress on stderr")
    .action(async (file: string, opts: AnalyzeCliOptions) => {
      exitQuietlyOnClosedPipe();
      if (!(FORMATS as readonly string[]).includes(opts.format))
        throw new Error(`unknown format ${opts.format}; use one of ${FORMATS.join(", ")}`);
      const maxDepth = Number.parseInt(opts.maxDepth, 10);
      if (!Number.isInteger(maxDepth) || maxDepth < 1)
        throw new Error(`--max-depth must be a positive integer`);
      const bytes = readInput(file);
      // Before the analysis (and with it the disassembler's WASM) loads: see jit-tiers.ts.
      chooseJitTiers(bytes.length);
      const { runAnalyze } = await loadAnalyzeRun();
      await runAnalyze(file, bytes, opts, maxDepth);
    });
}
