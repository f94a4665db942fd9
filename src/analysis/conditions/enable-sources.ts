/**
 * What an image's own enable state looks like, read from its registrations: mc.exe's
 * MCGEN_TRACE_CONTEXT (passed as the enable callback's context) with its EnableBits array and the
 * keyword / level of each bit, and the names of the enable-test APIs.
 */
import { REGISTER_APIS } from "../recognizers/registration.js";
import type { AnalysisContext } from "../recognizers/types.js";
import { resolveArguments } from "../wrappers.js";

/** mc.exe's MCGEN_TRACE_CONTEXT field offsets (x64; the same layout since Windows 7's mc). */
export const MCGEN_CONTEXT = {
  matchAnyKeyword: 0x10,
  matchAllKeyword: 0x18,
  isEnabled: 0x24,
  level: 0x28,
  enableBitsCount: 0x2a,
  enableBitMask: 0x30,
  enableKeyWords: 0x38,
  enableLevel: 0x40,
  size: 0x48,
} as const;

/** Most enable bits a generated context has (one per keyword/level pair of the manifest). */
const MAX_ENABLE_BITS = 4096;

export interface McContext {
  rva: number;
  /** Provider GUID of the registration that passed this context. */
  guid: string;
  /** EnableBits array (one bit per keyword/level pair), when the context points to one. */
  bits?: { rva: number; keywords: bigint[]; levels: number[] };
}

/** Enable-test APIs: which argument holds the descriptor, or the level and keyword. */
export const ENABLE_APIS: Record<string, { descriptor?: number; level?: number; keyword?: number }> = {
  EtwEventEnabled: { descriptor: 1 },
  EventEnabled: { descriptor: 1 },
  McGenEventEnabled: { descriptor: 1 },
  EtwProviderEnabled: { level: 1, keyword: 2 },
  EventProviderEnabled: { level: 1, keyword: 2 },
  EtwEventProviderEnabled: { level: 1, keyword: 2 },
  McGenLevelKeywordEnabled: { level: 1, keyword: 2 },
  TlgKeywordOn: { keyword: 1 },
  _TlgKeywordOn: { keyword: 1 },
};

/** WIL feature-flag functions (feature staging): the name tells the feature. */
export const WIL_FEATURE =
  /^(Feature_\w+__private_IsEnabled|wil_details_FeatureReporting|wil_details_IsEnabled|wil_details_FeatureStateCache|Feature_\w+__private_featureState)/;

export function mcContexts(ctx: AnalysisContext): McContext[] {
  const out = new Map<number, McContext>();
  for (const [api, spec] of Object.entries(REGISTER_APIS)) {
    for (const site of ctx.callsTo(api)) {
      const calls = resolveArguments(ctx.code, ctx.functions, ctx.graph, ctx.values, site.index, [
        spec.guid,
        2,
      ]);
      for (const call of calls) {
        const [g, c] = call.values;
        if (g?.k !== "addr" || c?.k !== "addr" || out.has(c.rva)) continue;
        const p = ctx.providers.list.find((x) => x.guidRva === g.rva);
        if (!p) continue;
        const mc: McContext = { rva: c.rva, guid: p.guid };
        const bits = readBits(ctx, c.rva);
        if (bits) mc.bits = bits;
        // A context is MC's only when its fields say so: enable bits, or the Win7 fields' sizes fit.
        out.set(c.rva, mc);
      }
    }
  }
  return [...out.values()];
}

function readBits(ctx: AnalysisContext, rva: number): McContext["bits"] | undefined {
  const b = ctx.values.imageBytes(rva, MCGEN_CONTEXT.size);
  if (!b) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const count = dv.getUint16(MCGEN_CONTEXT.enableBitsCount, true);
  if (count === 0 || count > MAX_ENABLE_BITS) return undefined;
  const ptr = (off: number): number | undefined => {
    try {
      return ctx.pe.vaToRva(dv.getBigUint64(off, true));
    } catch {
      return undefined;
    }
  };
  const bitsRva = ptr(MCGEN_CONTEXT.enableBitMask);
  const kwRva = ptr(MCGEN_CONTEXT.enableKeyWords);
  const lvRva = ptr(MCGEN_CONTEXT.enableLevel);
  if (bitsRva === undefined || kwRva === undefined || lvRva === undefined) return undefined;
  const kw = ctx.values.imageBytes(kwRva, 8 * count);
  const lv = ctx.values.imageBytes(lvRva, count);
  if (!kw || !lv) return undefined;
  const kdv = new DataView(kw.buffer, kw.byteOffset, kw.length);
  const keywords: bigint[] = [];
  for (let i = 0; i < count; i++) keywords.push(kdv.getBigUint64(8 * i, true));
  return { rva: bitsRva, keywords, levels: [...lv] };
}
