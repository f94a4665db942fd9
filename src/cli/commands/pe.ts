import type { Command } from "commander";
import { type PeSummary, parsePe, peSummary } from "../../formats/pe/index.js";
import { readInputFile } from "../../pipeline/files.js";
import { describeError } from "../../util/errors.js";

interface PeCliOptions {
  json?: boolean;
  keepGoing?: boolean;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** Joins names with ", " into lines of at most `width` characters. */
function wrap(names: string[], width: number): string[] {
  const lines: string[] = [];
  let cur = "";
  for (const n of names) {
    if (cur && cur.length + n.length + 2 > width) {
      lines.push(`${cur},`);
      cur = n;
    } else cur = cur ? `${cur}, ${n}` : n;
  }
  if (cur) lines.push(cur);
  return lines;
}

/** Human-readable rendering of the summary. */
export function formatPeSummary(file: string, s: PeSummary): string[] {
  const lines: string[] = [];
  const out = (l: string) => lines.push(l);
  out(file);
  out(`  ${s.format} ${s.machine}  subsystem ${s.subsystem}  ${s.kernelMode ? "kernel mode" : "user mode"}`);
  out(`  image base ${s.imageBase}  entry point ${hex(s.entryPoint)}`);
  if (s.pdb)
    out(
      `  PDB ${s.pdb.path}  ${s.pdb.format === "RSDS" ? `GUID ${s.pdb.guid}` : `signature ${hex(s.pdb.signature ?? 0)}`}  age ${s.pdb.age}`,
    );
  out(`  functions (.pdata ${s.pdataKind}) ${s.functions}, primary ${s.primaryFunctions}`);
  out(
    `  exports ${s.exports} (forwarders ${s.forwarders})  relocations ${s.relocations}  guard CF ${s.guardCFFunctions}`,
  );
  if (s.tlsCallbacks.length > 0) out(`  TLS callbacks ${s.tlsCallbacks.map(hex).join(", ")}`);
  out(`  resources ${s.resources.length > 0 ? s.resources.join(", ") : "none"}`);
  out(`  debug ${s.debugTypes.length > 0 ? s.debugTypes.join(", ") : "none"}`);
  out(`  sections (${s.sections.length}):`);
  for (const x of s.sections)
    out(
      `    ${x.name.padEnd(10)} ${x.access} rva ${hex(x.rva).padStart(10)} size ${hex(x.virtualSize).padStart(9)}`,
    );
  const importLines = (title: string, m: Record<string, string[]>) => {
    const dlls = Object.keys(m);
    if (dlls.length === 0) return;
    out(`  ${title} (${dlls.length} DLLs, ${dlls.reduce((n, d) => n + m[d]!.length, 0)} functions):`);
    for (const d of dlls) {
      out(`    ${d} (${m[d]!.length})`);
      for (const l of wrap(m[d]!, 96)) out(`      ${l}`);
    }
  };
  importLines("imports", s.imports);
  importLines("delay imports", s.delayImports);
  for (const w of s.warnings ?? []) out(`  warning: ${w}`);
  return lines;
}

export function register(program: Command): void {
  program
    .command("pe")
    .description("Read a PE image: headers, sections, imports, exports, resources, PDB identity, .pdata")
    .argument("<file>", "PE file (.exe, .dll, .sys, ...)")
    .option("--json", "print a JSON summary")
    .option("--keep-going", "report unreadable directories as warnings instead of failing")
    .action((file: string, opts: PeCliOptions) => {
      let summary: PeSummary;
      try {
        summary = peSummary(parsePe(readInputFile(file)), { keepGoing: opts.keepGoing });
      } catch (err) {
        process.stderr.write(`${describeError(file, err)}\n`);
        process.exitCode = 1;
        return;
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      else process.stdout.write(`${formatPeSummary(file, summary).join("\n")}\n`);
    });
}
