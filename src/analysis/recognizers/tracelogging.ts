/** TraceLogging write sites (stub: claimed by the "Analysis TL+WPP" helper, being written). */
import type { WriteRecognizer } from "./types.js";

export const traceLoggingRecognizer: WriteRecognizer = {
  id: "tracelogging",
  find() {
    return [];
  },
};
