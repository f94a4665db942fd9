/**
 * End of a `<!...>` declaration at the start of `s`: a DOCTYPE's internal subset `[...]` holds
 * `>` of its own (`<!ENTITY a "b">`), and quoted values may too. One pass; `s.length` when open.
 */
function declarationEnd(s: string): number {
  let quote = "";
  let depth = 0;
  for (let i = 2; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "[") depth++;
    else if (c === "]") depth = Math.max(0, depth - 1);
    else if (c === ">" && depth === 0) return i + 1;
  }
  return s.length;
}

/** Local name of the first element, after the XML declaration, comments, PIs and DOCTYPE. */
export function rootElementName(head: string): string | undefined {
  let s = head.replace(/^\uFEFF/, "");
  for (;;) {
    s = s.replace(/^\s+/, "");
    if (s.startsWith("<?")) s = s.slice(s.indexOf("?>") + 2 || s.length);
    else if (s.startsWith("<!--")) s = s.slice(s.indexOf("-->") + 3 || s.length);
    else if (s.startsWith("<!")) s = s.slice(declarationEnd(s));
    else break;
    if (!s) return undefined;
  }
  return /^<(?:[\w.-]+:)?([\w.-]+)/.exec(s)?.[1];
}

/**
 * True when the text is an instrumentation manifest: root `<instrumentationManifest>`, or a Windows
 * component manifest (`<assembly>`) with an `<instrumentation>` section. (Event log XML uses the
 * `.../2004/08/events/event` namespace but has `<Events>`/`<Event>` roots, so it is not taken.)
 */
export function looksLikeManifestText(head: string): boolean {
  const root = rootElementName(head);
  if (root === "instrumentationManifest") return true;
  return root === "assembly" && /<(\w+:)?instrumentation[\s>]/.test(head);
}
