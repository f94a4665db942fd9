/**
 * Which switch turns a legacy kernel (MOF "Windows Kernel Trace") event class on: its EVENT_TRACE_GROUP
 * and its PERFINFO group mask (the kernel logger's enable flag). The numbers are not restated here:
 * they are read from the corpus's reference tables (`reference/event-trace-groups.tsv`,
 * `reference/perfinfo-group-masks.tsv`, facts from ntwmi.h); this module only says which named
 * group each MOF class category belongs to.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** MOF category (EventTrace subclass) → [EVENT_TRACE_GROUP name, PERFINFO group mask names]. */
const CATEGORY_GROUPS: Record<string, [string, string[]]> = {
  Process: ["PROCESS", ["PROCESS"]],
  Thread: ["THREAD", ["THREAD"]],
  Image: ["IMAGE", ["LOADER"]],
  DiskIo: ["IO", ["DISK_IO_INIT"]],
  FileIo: ["FILE", ["FILE_IO", "FILE_IO_INIT", "FILENAME"]],
  SplitIo: ["SPLITIO", ["SPLIT_IO"]],
  TcpIp: ["TCPIP", ["NETWORK"]],
  UdpIp: ["UDPIP", ["NETWORK"]],
  Registry: ["REGISTRY", ["REGISTRY"]],
  PageFault: ["MEMORY", ["ALL_FAULTS", "HARD_FAULTS", "VIRTUAL_ALLOC"]],
  PerfInfo: ["PERFINFO", ["PROFILE", "SYSCALL", "DPC", "INTERRUPT"]],
  StackWalk: ["STACKWALK", []],
  ALPC: ["ALPC", ["ALPC"]],
  Power: ["POWER", ["POWER"]],
  Pool: ["POOL", ["POOL"]],
  Object: ["OBJECT", ["OB_HANDLE", "OB_OBJECT"]],
  UMS: ["UMS", ["UMS"]],
  Debugger: ["DBGPRINT", ["DEBUGGER", "DBGPRINT"]],
  SystemConfig: ["CONFIG", []],
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
  traceGroups: Map<string, string>;
  groupMasks: Map<string, string>;
}

function readTable(file: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
    const [value, name] = line.trim().split("\t");
    if (value && name && !out.has(name)) out.set(name, value);
  }
  return out;
}

/** The reference tables from a corpus `reference/` directory (empty maps when absent). */
export function loadKernelGroupTables(referenceDir: string): KernelGroupTables {
  return {
    traceGroups: readTable(join(referenceDir, "event-trace-groups.tsv")),
    groupMasks: readTable(join(referenceDir, "perfinfo-group-masks.tsv")),
  };
}

/** The group and enable flag(s) of a MOF class category, undefined for categories without one. */
export function kernelGroupOf(category: string, tables: KernelGroupTables): KernelGroup | undefined {
  const known = CATEGORY_GROUPS[category];
  if (!known) return undefined;
  const [group, masks] = known;
  const tg = tables.traceGroups.get(group);
  return {
    ...(tg ? { traceGroup: { name: group, value: tg } } : {}),
    groupMasks: masks.flatMap((m) => {
      const v = tables.groupMasks.get(m);
      return v ? [{ name: m, value: v }] : [];
    }),
  };
}
