/**
 * Instrumentation manifests as XML: the element tree (xml.ts), the winmeta.xml constants and the
 * content sniff. Mapping manifest elements to catalog events is catalog/readers/manifest-events.ts.
 */
export { looksLikeManifestText, rootElementName } from "./sniff.js";
export * from "./winmeta.js";
export {
  child,
  childrenNamed,
  decodeXmlBytes,
  descendants,
  parseXml,
  stripDoctype,
  type XmlElement,
} from "./xml.js";
