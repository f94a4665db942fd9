/**
 * Terminal and pipe hygiene for every command: `etw-atlas scan ... | head -1` must end quietly
 * when the reader closes the pipe, and names taken from files (paths, provider names) must not
 * drive the terminal.
 */
let installed = false;

/** A closed stdout ends the process quietly (exit 0); a closed stderr is ignored. Idempotent. */
export function exitQuietlyOnClosedPipe(): void {
  if (installed) return;
  installed = true;
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
  process.stderr.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
  });
}

export { printable } from "../util/printable.js";

import { printable } from "../util/printable.js";

/** `printable` for each line of a multi-line text (the line breaks stay). */
export function printableLines(text: string): string {
  return text.split("\n").map(printable).join("\n");
}
