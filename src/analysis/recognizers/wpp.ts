/** WPP trace-message sites (stub: claimed by the "Analysis TL+WPP" helper, being written). */
import type { WriteRecognizer } from "./types.js";

export const wppRecognizer: WriteRecognizer = {
  id: "wpp",
  find() {
    return [];
  },
};
