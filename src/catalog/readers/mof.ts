import { decodeMofBytes, parseMofText } from "../../formats/mof/index.js";
import type { SourceResult } from "../model.js";
import type { Sniff, SourceReader } from "../sources.js";
import { eventTraceEvents } from "./mof-events.js";

const SNIFF_BYTES = 64 * 1024;

/** Drops leading white space and comments so the first real token can be checked. */
function skipTrivia(text: string): string {
  let s = text;
  for (;;) {
    const t = s.replace(/^\s+/, "");
    if (t.startsWith("//")) {
      const nl = t.indexOf("\n");
      s = nl < 0 ? "" : t.slice(nl + 1);
    } else if (t.startsWith("/*")) {
      const end = t.indexOf("*/");
      s = end < 0 ? "" : t.slice(end + 2);
    } else return t;
  }
}

/** `#pragma` directives mofcomp knows (C/C++ headers use once/pack/warning instead). */
const MOF_PRAGMA =
  /^#pragma\s+(namespace|classflags|instanceflags|autorecover|locale|instancelocale|include|deleteclass|deleteinstance|amendment|namespacesecurity)\b/im;
/** A qualifier list directly before `class`, or an `instance of X {` block. */
const MOF_DECLARATION = /(^|\n)\s*\[[^\]]*\]\s*class\s+\w+|\binstance\s+of\s+\w+\s*(as\s+\$\w+\s*)?\{/i;

/**
 * Text MOF: starts (after comments) with `#pragma`, a qualifier list, `class` or `instance of`,
 * and shows a MOF pragma or a MOF-only construct in the first 64 KB (so C/C++ headers that start
 * with `#pragma once` and declare classes, or INI files with `[Section]`, are not taken).
 */
export function sniffMof(bytes: Uint8Array): Sniff {
  const head = bytes.subarray(0, SNIFF_BYTES);
  const utf16 = (head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff);
  if (!utf16 && head.subarray(0, 4096).includes(0)) return "no";
  const text = decodeMofBytes(head);
  const first = skipTrivia(text);
  if (!/^(#pragma\b|\[|class\b|instance\s+of\b)/i.test(first)) return "no";
  return MOF_PRAGMA.test(text) || MOF_DECLARATION.test(text) ? "yes" : "no";
}

/**
 * Parses text MOF and returns the classic ETW (EventTrace) providers and events it declares.
 * Throws FormatError for text that is not valid MOF.
 */
export function parseMof(text: string, path: string): SourceResult {
  const doc = parseMofText(text);
  const result = eventTraceEvents(doc, path);
  if (doc.instancesSkipped) result.notes.push(`${doc.instancesSkipped} MOF instance declarations skipped`);
  return result;
}

/** Text MOF files (e.g. the WDK's wmicore.mof): classic EventTrace providers and events. */
export const mofReader: SourceReader = {
  id: "mof-text",
  sniff: (bytes) => sniffMof(bytes),
  read: (input) => parseMof(decodeMofBytes(input.bytes), input.path),
};
