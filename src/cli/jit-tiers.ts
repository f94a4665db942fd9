import { setFlagsFromString } from "node:v8";

/**
 * Images up to this size are analysed with V8's baseline compilers only: Liftoff for iced-x86's
 * WASM, Ignition and Sparkplug for our JavaScript. By default V8 also recompiles the hot functions
 * of both with its optimising compiler (TurboFan) on background threads; up to a few MiB that
 * compilation costs more CPU than the faster code saves. Measured (user+sys of `analyze --format
 * jsonl -q`, default → baseline only): 3ware.sys 0.1 MiB 0.34 → 0.29 s, fhsvc.dll 0.1 MiB
 * 0.61 → 0.49 s, gdi32full.dll 1 MiB 0.61 → 0.49 s, ntdll.dll 1.9 MiB 1.68 → 1.22 s, ntdll 22000
 * 2.0 MiB 1.79 → 1.22 s, win32kbase 17134 2.1 MiB 3.30 → 2.54 s, d3d11 2.4 MiB 1.33 → 1.09 s,
 * KernelBase 2.8 MiB 1.80 → 1.59 s, win32kbase 19041 2.8 MiB 4.43 → 4.54 s (even), win32k 7601
 * 3.0 MiB 1.62 → 1.31 s, win32kfull 3.6 MiB 3.91 → 3.30 s; but dxcompiler.dll (17 MiB) 3.2 → 4.6 s
 * and onnxruntime.dll (27 MiB) 4.2 → 6.6 s, whose long decode needs TurboFan's code.
 */
export const BASELINE_ONLY_MAX_BYTES = 4 * 2 ** 20;

/**
 * Picks V8's compilers for a process about to analyse one image of `bytes` bytes: flags read when
 * iced-x86's WASM is compiled and whenever a function gets hot, so they are set before the
 * analysis modules load and stay. V8's code cache (code-cache.ts) is checked against the flags:
 * the build writes it under these, for the small images whose start-up it matters to.
 */
export function chooseJitTiers(bytes: number): void {
  if (bytes <= BASELINE_ONLY_MAX_BYTES) setFlagsFromString("--liftoff-only --no-opt");
}
