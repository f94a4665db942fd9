import { FormatError } from "../../util/errors.js";

export type TokenKind = "ident" | "string" | "number" | "punct" | "pragma" | "alias";

export interface Token {
  kind: TokenKind;
  /** Identifier/punctuation text, the decoded string value, the number text, or the pragma line. */
  text: string;
  line: number;
}

const PUNCT = new Set(["[", "]", "(", ")", "{", "}", ",", ";", ":", "=", "-", "+"]);

function escapedChar(c: string): string {
  switch (c) {
    case "n":
      return "\n";
    case "t":
      return "\t";
    case "r":
      return "\r";
    case "b":
      return "\b";
    case "f":
      return "\f";
    case "0":
      return "\0";
    default:
      return c;
  }
}

/**
 * Splits MOF text into tokens: identifiers, "strings" (escapes decoded, adjacent literals are
 * joined by the parser), numbers (decimal, 0x hex, reals), punctuation, whole `#pragma` lines and
 * `$alias` names. Comments (`//`, `/* *\/`) are dropped.
 */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === "\n") {
      line++;
      i++;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r" || c === "\f" || c === "\v" || c === "\uFEFF") {
      i++;
      continue;
    }
    if (c === "/" && text[i + 1] === "/") {
      while (i < n && text[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) throw new FormatError("mof", `unterminated /* comment starting on line ${line}`);
      for (let k = i; k < end; k++) if (text[k] === "\n") line++;
      i = end + 2;
      continue;
    }
    if (c === "#") {
      let end = text.indexOf("\n", i);
      if (end < 0) end = n;
      tokens.push({ kind: "pragma", text: text.slice(i, end).trim(), line });
      i = end;
      continue;
    }
    if (c === '"') {
      let out = "";
      const start = line;
      i++;
      for (;;) {
        if (i >= n) throw new FormatError("mof", `unterminated string starting on line ${start}`);
        const d = text[i]!;
        if (d === '"') break;
        if (d === "\n") line++;
        if (d === "\\" && i + 1 < n) {
          const e = text[i + 1]!;
          if (e === "x" || e === "X") {
            const m = /^[0-9a-fA-F]{1,4}/.exec(text.slice(i + 2, i + 6));
            if (m) {
              out += String.fromCharCode(Number.parseInt(m[0], 16));
              i += 2 + m[0].length;
              continue;
            }
          }
          out += escapedChar(e);
          i += 2;
          continue;
        }
        out += d;
        i++;
      }
      i++;
      tokens.push({ kind: "string", text: out, line: start });
      continue;
    }
    if (c === "'") {
      // char16 literal 'x'
      const end = text.indexOf("'", i + 1);
      if (end < 0 || end - i > 8) throw new FormatError("mof", `bad character literal on line ${line}`);
      tokens.push({ kind: "string", text: text.slice(i + 1, end), line });
      i = end + 1;
      continue;
    }
    if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(text[i + 1] ?? ""))) {
      const m = /^(0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?)/.exec(text.slice(i, i + 64));
      tokens.push({ kind: "number", text: m![0], line });
      i += m![0].length;
      continue;
    }
    if (/[A-Za-z_]/.test(c) || c.charCodeAt(0) > 127) {
      let j = i + 1;
      while (j < n && (/[A-Za-z0-9_]/.test(text[j]!) || text.charCodeAt(j) > 127)) j++;
      tokens.push({ kind: "ident", text: text.slice(i, j), line });
      i = j;
      continue;
    }
    if (c === "$") {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_]/.test(text[j]!)) j++;
      tokens.push({ kind: "alias", text: text.slice(i, j), line });
      i = j;
      continue;
    }
    if (PUNCT.has(c) || c === "." || c === "<" || c === ">") {
      tokens.push({ kind: "punct", text: c, line });
      i++;
      continue;
    }
    throw new FormatError("mof", `unexpected character ${JSON.stringify(c)} on line ${line}`);
  }
  return tokens;
}
