/**
 * The one error type every parser throws for bad input. It names the format, what was wrong and
 * (where known) the byte offset, so the CLI can print "file: format: what (at 0x..)" and carry on.
 */
export class FormatError extends Error {
  constructor(
    readonly format: string,
    readonly detail: string,
    readonly offset?: number,
  ) {
    super(`${format}: ${detail}${offset !== undefined ? ` (at offset 0x${offset.toString(16)})` : ""}`);
    this.name = "FormatError";
  }
}

/** Prefixes an error with the file it came from, keeping FormatError details. */
export function describeError(file: string, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return `${file}: ${msg}`;
}
