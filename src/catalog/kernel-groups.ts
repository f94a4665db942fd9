/**
 * Which switch turns a legacy kernel (MOF "Windows Kernel Trace") event class on: its EVENT_TRACE_GROUP
 * (formats/mof/trace-groups.ts) and its PERFINFO group mask (the kernel logger's enable flag). Mask
 * values and group names are read from the corpus's reference tables (`reference/event-trace-groups.tsv`,
 * `reference/perfinfo-group-masks.tsv`, facts from ntwmi.h); without them only the group is shown.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TRACE_GROUP_MOF_CATEGORY } from "../formats/mof/trace-groups.js";

/**
 * MOF category (EventTrace subclass) → the PERFINFO group mask names that enable its events. The
 * category's trace group comes from formats/mof/trace-groups.ts (one table for the whole tree).
 */
const CATEGORY_MASKS: Record<string, string[]> = {
  Process: ["PROCESS"],
  Thread: ["THREAD"],
  Image: ["LOADER"],
  DiskIo: ["DISK_IO_INIT"],
  FileIo: ["FILE_IO", "FILE_IO_INIT", "FILENAME"],
  SplitIo: ["SPLIT_IO"],
  TcpIp: ["NETWORK"],
  UdpIp: ["NETWORK"],
  Registry: ["REGISTRY"],
  PageFault: ["ALL_FAULTS", "HARD_FAULTS", "VIRTUAL_ALLOC"],
  PerfInfo: ["PROFILE", "SYSCALL", "DPC", "INTERRUPT"],
  ALPC: ["ALPC"],
  Power: ["POWER"],
  Pool: ["POOL"],
  Object: ["OB_HANDLE", "OB_OBJECT"],
  UMS: ["UMS"],
  Debugger: ["DEBUGGER", "DBGPRINT"],
  Heap: ["HEAP"],
};

export interface NamedValue {
  name: string;
  value: string;
}

export interface KernelGroup {
  traceGroup?: NamedValue;
  groupMasks: NamedValue[];
}

export interface KernelGroupTables {
  /** EVENT_TRACE_GROUP value (e.g. "0x0300") → name. */
  traceGroupNames: Map<string, string>;
  /** PERFINFO group mask name → value. */
  groupMasks: Map<string, string>;
}

/** Rows of a two-column reference table (value, name), as [value, name] pairs. */
function readTable(file: string): Array<[string, string]> {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split("\t") as [string, string])
    .filter(([value, name]) => value && name);
}

/** The reference tables from a corpus `reference/` directory (empty maps when absent). */
export function loadKernelGroupTables(referenceDir: string): KernelGroupTables {
  const masks = new Map<string, string>();
  for (const [value, name] of readTable(join(referenceDir, "perfinfo-group-masks.tsv")))
    if (!masks.has(name)) masks.set(name, value);
  return {
    traceGroupNames: new Map(
      readTable(join(referenceDir, "event-trace-groups.tsv")).map(([v, n]) => [v.toLowerCase(), n]),
    ),
    groupMasks: masks,
  };
}

/** The group and enable flag(s) of a MOF class category, undefined for categories without either. */
export function kernelGroupOf(category: string, tables: KernelGroupTables): KernelGroup | undefined {
  const group = [...TRACE_GROUP_MOF_CATEGORY].find(([, c]) => c === category)?.[0];
  const groupMasks = (CATEGORY_MASKS[category] ?? []).flatMap((m) => {
    const v = tables.groupMasks.get(m);
    return v ? [{ name: m, value: v }] : [];
  });
  if (group === undefined && groupMasks.length === 0) return undefined;
  const value = `0x${group?.toString(16).padStart(4, "0")}`;
  return {
    ...(group !== undefined
      ? { traceGroup: { name: tables.traceGroupNames.get(value) ?? category.toUpperCase(), value } }
      : {}),
    groupMasks,
  };
}
