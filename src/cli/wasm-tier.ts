import { setFlagsFromString } from "node:v8";

/**
 * Images up to this size are disassembled with V8's baseline WASM code only (Liftoff). By default
 * V8 also recompiles iced-x86's hot decoder functions with its optimising compiler (TurboFan) on
 * background threads; for a small image that compilation costs more CPU than it saves (3ware.sys,
 * 0.1 MiB: about 0.14 s of 0.45 s; gdi32full.dll, 1 MiB: 0.03 s less to decode), while from
 * win32kbase.sys (2.9 MiB: 0.12 s more) to onnxruntime.dll (28 MiB: 0.44 s more) it pays.
 */
export const BASELINE_WASM_MAX_BYTES = 2 * 2 ** 20;

/**
 * Picks the WASM tier for a process about to analyse one image of `bytes` bytes: a V8 flag, read
 * when iced-x86's WASM is compiled and while it runs, so it is set before the analysis modules load
 * and stays. V8's code cache (code-cache.ts) is checked against the flags: the build writes it
 * under this flag, for the small images whose start-up it matters to.
 */
export function chooseWasmTier(bytes: number): void {
  if (bytes <= BASELINE_WASM_MAX_BYTES) setFlagsFromString("--liftoff-only");
}
