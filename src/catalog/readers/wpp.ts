import { isMsf7, type PdbFile, parsePdb } from "../../formats/pdb/index.js";
import { looksLikeTmfText, parseTmfText, wppFromPdb } from "../../formats/wpp/index.js";
import type { SourceResult } from "../model.js";
import type { SourceReader } from "../sources.js";
import { wppCatalog } from "./wpp-events.js";

const head = new TextDecoder("utf-8", { fatal: false });

/** `.tmf` text files (tracepdb output), recognised by content: a `<GUID> <component>` line then `#typev`. */
export const tmfTextReader: SourceReader = {
  id: "tmf-text",
  sniff(bytes) {
    if (bytes.length === 0 || bytes.includes(0)) return "no";
    return looksLikeTmfText(head.decode(bytes.subarray(0, 8192))) ? "yes" : "no";
  },
  read(input) {
    const messages = parseTmfText(new TextDecoder("utf-8").decode(input.bytes));
    return wppCatalog(messages, [], { file: input.path, source: "wpp-tmf" });
  },
};

/** PDB files: WPP TMF/TMC metadata from S_ANNOTATION records. */
export const pdbWppReader: SourceReader = {
  id: "pdb",
  sniff: (bytes) => (isMsf7(bytes) ? "yes" : "no"),
  read: (input) => wppEventsFromPdb(parsePdb(input.bytes), input.path),
};

/**
 * WPP catalog rows (TMF messages, TMC controls) of a PDB: kind "wpp", id = message number,
 * `wpp.messageGuid`, and each message's call-site RVA (its annotation's address). Used by the
 * scan and, for joining sites, by the analysis of an image whose PDB is at hand.
 */
export function wppEventsFromPdb(pdb: PdbFile, file: string): SourceResult {
  const meta = wppFromPdb(pdb);
  const result = wppCatalog(meta.messages, meta.controls, { file, source: "wpp-pdb" });
  // Events come out in message order: attach each one's call-site RVA (the annotation's address).
  result.events.forEach((e, i) => {
    const rva = meta.messages[i]?.rva;
    if (rva !== undefined && e.wpp) e.wpp.annotationRva = rva;
  });
  result.notes.push(...meta.notes.map((n) => `wpp: ${n}`));
  return result;
}
