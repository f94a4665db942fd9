import type { SourceResult } from "../../catalog/model.js";
import { parseManifest as parseManifestText } from "./parse.js";

export { deriveEventName, EventNamer, stripWin, w10DisplayName } from "./naming.js";
export { buildFromPath, looksLikeManifestText } from "./parse.js";
export * from "./winmeta.js";
export { decodeXmlBytes, parseXml, stripDoctype, type XmlElement } from "./xml.js";

/**
 * Parses instrumentation-manifest XML text into catalog records (providers, events, notes).
 * Throws FormatError when the text is not well-formed XML or not an instrumentation manifest.
 */
export function parseManifest(xmlText: string, path: string): SourceResult {
  return parseManifestText(xmlText, path);
}
