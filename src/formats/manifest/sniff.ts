/** Local name of the first element, after the XML declaration, comments, PIs and DOCTYPE. */
export function rootElementName(head: string): string | undefined {
  let s = head.replace(/^\uFEFF/, "");
  for (;;) {
    s = s.replace(/^\s+/, "");
    if (s.startsWith("<?")) s = s.slice(s.indexOf("?>") + 2 || s.length);
    else if (s.startsWith("<!--")) s = s.slice(s.indexOf("-->") + 3 || s.length);
    else if (s.startsWith("<!")) s = s.slice(s.indexOf(">") + 1 || s.length);
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
