/**
 * Legacy kernel events: EtwTraceKernelEvent(PEVENT_DATA_DESCRIPTOR Data, ULONG Count,
 * ULONG GroupMask, USHORT HookId, ULONG Flags) — ntoskrnl-internal, so found by name (PDB) only.
 * The group mask (PERF_* incl. the mask-index bits) and hook id (EVENT_TRACE_GROUP_* | type)
 * constants are resolved at each call site (wrappers included); names come from a
 * `KernelNames` table when one is given to the analysis.
 */

import { resolveArguments } from "../wrappers.js";
import { findingAt } from "./finding.js";
import type { WriteFinding, WriteRecognizer } from "./types.js";

export const KERNEL_EVENT_APIS = ["EtwTraceKernelEvent"];

/** Names of kernel constants: PERFINFO group masks, hook ids, EVENT_TRACE_GROUP values. */
export interface KernelNames {
  groupMasks: Map<number, string>;
  hookIds: Map<number, string>;
  traceGroups: Map<number, string>;
}

/**
 * Parses the three reference tables (TSV with a header line, first column a hex value, second a
 * name), e.g. perfinfo-group-masks.tsv, perfinfo-log-types.tsv, event-trace-groups.tsv.
 */
export function parseKernelNames(groupMasks: string, hookIds: string, traceGroups: string): KernelNames {
  const table = (text: string): Map<number, string> => {
    const out = new Map<number, string>();
    for (const line of text.split(/\r?\n/).slice(1)) {
      const [value, name] = line.split("\t");
      if (!value || !name) continue;
      const n = Number.parseInt(value, 16);
      if (Number.isFinite(n) && !out.has(n)) out.set(n, name.trim());
    }
    return out;
  };
  return { groupMasks: table(groupMasks), hookIds: table(hookIds), traceGroups: table(traceGroups) };
}

export const kernelRecognizer: WriteRecognizer = {
  id: "kernel",
  find(ctx) {
    const out: WriteFinding[] = [];
    for (const api of KERNEL_EVENT_APIS) {
      for (const site of ctx.callsTo(api)) {
        for (const call of resolveArguments(
          ctx.code,
          ctx.functions,
          ctx.graph,
          ctx.values,
          site.index,
          [2, 3],
        )) {
          const [mask, hook] = call.values;
          const event: WriteFinding["event"] = { kind: "kernel" };
          if (mask?.k === "imm")
            event.groupMask = "0x" + (mask.v & 0xffffffffn).toString(16).padStart(8, "0");
          if (hook?.k === "imm") event.hookId = Number(hook.v & 0xffffn);
          out.push({ ...findingAt(ctx, call.chain, api, event), provider: { name: "Windows Kernel Trace" } });
        }
      }
    }
    return out;
  },
};

/** Fills group/hook names of a kernel event from the tables. */
export function nameKernelEvent(
  event: {
    groupMask?: string;
    hookId?: number;
    groupMaskName?: string;
    hookName?: string;
    groupName?: string;
  },
  names: KernelNames,
): void {
  if (event.groupMask !== undefined) {
    const n = names.groupMasks.get(Number.parseInt(event.groupMask, 16));
    if (n) event.groupMaskName = n;
  }
  if (event.hookId !== undefined) {
    const h = names.hookIds.get(event.hookId);
    if (h) event.hookName = h;
    const g = names.traceGroups.get(event.hookId & 0xff00);
    if (g) event.groupName = g;
  }
}
