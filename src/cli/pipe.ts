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

/**
 * A name as it may be shown on a terminal: control characters (ESC, CR, LF, C1 ...) become
 * visible escapes (`\x1b`, `\n`), so a file named with an escape sequence cannot rewrite the
 * screen or forge output lines. Backslashes stay as they are (Windows paths).
 */
export function printable(name: string): string {
  return name.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
    return named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}

/** `printable` for each line of a multi-line text (the line breaks stay). */
export function printableLines(text: string): string {
  return text.split("\n").map(printable).join("\n");
}
