import { decodeXmlBytes, looksLikeManifestText } from "../../formats/manifest/index.js";
import type { Sniff, SourceReader } from "../sources.js";
import { parseManifest } from "./manifest-events.js";

/** How much of a file the sniff decodes: manifests name their root/namespace in the first lines. */
const SNIFF_BYTES = 64 * 1024;

/** XML = optional BOM/whitespace, then `<?xml`, a comment or an element. */
function looksLikeXml(head: string): boolean {
  return /^\s*<(\?xml|!--|[A-Za-z_])/.test(head);
}

export function sniffManifest(bytes: Uint8Array): Sniff {
  const head = decodeXmlBytes(bytes.subarray(0, SNIFF_BYTES));
  if (!looksLikeXml(head)) return "no";
  return looksLikeManifestText(head) ? "yes" : { skip: "XML but not an instrumentation manifest" };
}

/** Instrumentation manifests (.man / .xml, UTF-8 or UTF-16), recognised by content. */
export const manifestReader: SourceReader = {
  id: "manifest-xml",
  sniff: (bytes) => sniffManifest(bytes),
  read: (input) => parseManifest(decodeXmlBytes(input.bytes), input.path),
};
