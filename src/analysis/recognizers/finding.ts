/** Builds the common part of a `WriteFinding` from a resolved call chain. */
import { functionAt } from "../functions.js";
import type { AnalysisContext, SiteEvent, WriteFinding } from "./types.js";

/**
 * A finding for the call chain `chain` (instruction indices, outermost call first, ending at the
 * API call): reported at the outermost call, in the function containing it.
 */
export function findingAt(
  ctx: AnalysisContext,
  chain: readonly number[],
  writeFunction: string,
  event: SiteEvent,
): WriteFinding {
  const outer = chain[0]!;
  const rva = ctx.code.rva[outer]!;
  return {
    index: outer,
    rva,
    function: functionAt(ctx.functions, rva)?.rva ?? 0,
    writeFunction,
    via: chain.map((i) => ctx.code.rva[i]!),
    event,
  };
}
