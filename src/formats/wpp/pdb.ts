import { FormatError } from "../../util/errors.js";
import type { PdbFile } from "../pdb/index.js";
import { parseWppAnnotation, type TmcControl, type TmfMessage } from "./tmf.js";

/** A TMF message found in a PDB, with where its annotation sits. */
export interface PdbTmfMessage extends TmfMessage {
  /** RVA of the S_ANNOTATION (the trace call site), when the PDB maps its section. */
  rva?: number;
  /** Procedure whose scope holds the annotation. */
  procedure?: string;
}

export interface PdbWppMetadata {
  messages: PdbTmfMessage[];
  controls: TmcControl[];
  /** S_ANNOTATION records seen (WPP or not). */
  annotations: number;
  notes: string[];
}

/**
 * WPP metadata from a PDB's S_ANNOTATION records: `TMF:` messages and `TMC:` controls. Other
 * annotations (NT_ASSERT's "Debug", TraceLogging's "_TlgWrite:") are counted and ignored. A
 * malformed WPP annotation becomes a note; the rest are still read. When the annotation carries
 * no FUNC= (tracewpp emits it only with WPP_EMIT_FUNC_NAME), the enclosing procedure's name is
 * used, as tracepdb does.
 */
export function wppFromPdb(pdb: PdbFile): PdbWppMetadata {
  const out: PdbWppMetadata = { messages: [], controls: [], annotations: 0, notes: [] };
  const controlSeen = new Set<string>();
  const messageSeen = new Set<string>();
  for (const a of pdb.annotations()) {
    out.annotations++;
    let parsed: ReturnType<typeof parseWppAnnotation>;
    try {
      parsed = parseWppAnnotation(a.strings);
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      const where = a.rva !== undefined ? `RVA 0x${a.rva.toString(16)}` : `${a.segment}:${a.offset}`;
      out.notes.push(`annotation at ${where}${a.procedure ? ` in ${a.procedure}` : ""}: ${err.message}`);
      continue;
    }
    if (!parsed) continue;
    if (parsed.kind === "tmc") {
      // The same control annotation appears once per compiland that includes the init code.
      if (!controlSeen.has(parsed.control.guid)) {
        controlSeen.add(parsed.control.guid);
        out.controls.push(parsed.control);
      }
      continue;
    }
    for (const m of parsed.messages) {
      // Inlined/duplicated trace sites repeat the same (GUID, number): keep the first.
      const key = `${m.messageGuid}#${m.messageNumber}`;
      if (messageSeen.has(key)) continue;
      messageSeen.add(key);
      const msg: PdbTmfMessage = { ...m };
      if (msg.function === undefined && a.procedure !== undefined) msg.function = a.procedure;
      if (a.rva !== undefined) msg.rva = a.rva;
      if (a.procedure !== undefined) msg.procedure = a.procedure;
      out.messages.push(msg);
    }
  }
  for (const w of pdb.warnings) out.notes.push(w);
  return out;
}
