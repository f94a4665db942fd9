import { classicRecognizer } from "./classic.js";
import { kernelRecognizer } from "./kernel.js";
import { manifestRecognizer } from "./manifest.js";
import { traceLoggingRecognizer } from "./tracelogging.js";
import type { WriteRecognizer } from "./types.js";
import { wppRecognizer } from "./wpp.js";

/**
 * Every write-site recognizer, run in this order. When two report the same API call, a specific
 * kind (tracelogging, kernel, wpp) wins over "manifest". Add one line per recognizer.
 */
export const recognizers: WriteRecognizer[] = [
  manifestRecognizer,
  kernelRecognizer,
  traceLoggingRecognizer,
  wppRecognizer,
  classicRecognizer,
];
