/** Names for EtwTraceKernelEvent constants, read from the corpus's reference tables. */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type KernelNames, parseKernelNames } from "../analysis/recognizers/kernel.js";

/** The three kernel constant tables `loadKernelNames` reads (as in ../shared/corpus/reference). */
export const KERNEL_NAME_TABLES = [
  "perfinfo-group-masks.tsv",
  "perfinfo-log-types.tsv",
  "event-trace-groups.tsv",
] as const;

/** Reads the three kernel constant tables (TSV) from a directory. */
export function loadKernelNames(dir: string): KernelNames {
  const [masks, types, groups] = KERNEL_NAME_TABLES.map((name) => readFileSync(join(dir, name), "utf8"));
  return parseKernelNames(masks!, types!, groups!);
}

/** `loadKernelNames(dir)` when the directory holds all three tables, else undefined. */
export function kernelNamesIfPresent(dir: string): KernelNames | undefined {
  return KERNEL_NAME_TABLES.every((name) => existsSync(join(dir, name))) ? loadKernelNames(dir) : undefined;
}
