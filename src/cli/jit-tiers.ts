import { setFlagsFromString } from "node:v8";

/**
 * Images up to this size are analysed with V8's baseline compilers only: Liftoff for iced-x86's
 * WASM, Ignition and Sparkplug for our JavaScript. By default V8 also recompiles the hot functions
 * of both with its optimising compiler (TurboFan) on background threads; below a few MiB that
 * compilation costs more CPU than the faster code saves. Measured (user+sys, `analyze --format
 * jsonl -q`, default → baseline only): 3ware.sys 0.1 MiB 0.34 → 0.29 s, fhsvc.dll 0.1 MiB 0.61 →
 * 0.49 s, gdi32full.dll 1 MiB 0.61 → 0.49 s, ntdll.dll 1.9 MiB 1.68 → 1.22 s; win32kbase.sys
 * 2.9 MiB breaks even (4.43 → 4.54 s) and onnxruntime.dll (28 MiB) decodes 0.44 s slower on
 * Liftoff alone.
 */
export const BASELINE_ONLY_MAX_BYTES = 2 * 2 ** 20;

/**
 * Picks V8's compilers for a process about to analyse one image of `bytes` bytes: flags read when
 * iced-x86's WASM is compiled and whenever a function gets hot, so they are set before the
 * analysis modules load and stay. V8's code cache (code-cache.ts) is checked against the flags:
 * the build writes it under these, for the small images whose start-up it matters to.
 */
export function chooseJitTiers(bytes: number): void {
  if (bytes <= BASELINE_ONLY_MAX_BYTES) setFlagsFromString("--liftoff-only --no-opt");
}
