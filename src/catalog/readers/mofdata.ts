import { decompressBmof, parseBmof } from "../../formats/mof/binary.js";
import { mofData } from "../../formats/pe/index.js";
import { emptyResult, mergeResults } from "../model.js";
import { eventTraceEvents } from "./mof-events.js";
import type { PeExtractor } from "./pe.js";

/**
 * Binary MOF (`MOFDATA` resources): classic ETW classes a driver registers with WMI. Classes
 * outside the EventTrace tree (plain WMI data blocks) produce no events, only a note.
 */
export const mofDataExtractor: PeExtractor = {
  id: "mof-binary",
  extract(pe, input) {
    const out = emptyResult();
    for (const resource of mofData(pe)) {
      const doc = parseBmof(decompressBmof(resource));
      const r = eventTraceEvents(doc, input.path, { source: "mof-binary" });
      if (r.events.length === 0) {
        const names = [...new Set(doc.classes.map((c) => c.name))];
        out.notes.push(
          `MOFDATA: ${names.length} WMI class(es) (${names.join(", ")}), none derived from EventTrace`,
        );
      }
      mergeResults(out, r);
    }
    return out;
  },
};
