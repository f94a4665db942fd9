/** Progress and summary lines the long-running commands (`scan`, `start`) share on stderr. */
import { existsSync } from "node:fs";
import { relative } from "node:path";
import type { AnalyzeOutcome } from "../pipeline/analysis.js";
import { printable } from "../util/printable.js";

/** A path for a one-line progress display: relative to the working directory when that is shorter. */
export function shorten(path: string, width = 60): string {
  const rel = relative(process.cwd(), path);
  const p = rel.startsWith("..") && existsSync(path) ? path : rel;
  return printable(p.length > width ? `…${p.slice(-(width - 1))}` : p);
}

/** One line per analysed image (non-TTY, not quiet): what the analysis found or why not. */
export function analysisOutcomeLine(o: AnalyzeOutcome): string {
  const what =
    o.status === "analysed"
      ? `${o.sites} code sites in ${(o.ms / 1000).toFixed(1)} s${o.pdb ? " (with its PDB)" : ""}`
      : o.status === "skipped"
        ? `not analysed (${o.reason})`
        : `analysis FAILED: ${o.error}`;
  return `analyse ${o.path}: ${what}`;
}
