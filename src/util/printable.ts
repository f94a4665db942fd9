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
