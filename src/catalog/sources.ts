import type { SourceResult } from "./model.js";

/** One input file handed to a reader. Readers are pure: all I/O happens in the CLI before this. */
export interface SourceInput {
  /** Path as given to the scanner; used for provenance and messages only. */
  path: string;
  bytes: Uint8Array;
  /** Returns the bytes of a companion file (e.g. `name.mui`, a PDB) if the caller has it. */
  companion?: (name: string) => Uint8Array | undefined;
}

/** What a reader thinks of a file after looking at its first bytes. */
export type Sniff = "yes" | "no" | { skip: string };

export interface SourceReader {
  /** Short id shown in summaries, e.g. "manifest-xml", "pe". */
  id: string;
  /** Decides by content (not by extension) whether this reader handles the file. */
  sniff(bytes: Uint8Array, path: string): Sniff;
  read(input: SourceInput): SourceResult;
}
