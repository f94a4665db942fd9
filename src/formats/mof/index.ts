export { tokenize } from "./lexer.js";
export {
  type MofClass,
  type MofDocument,
  type MofProperty,
  parseMofText,
  qList,
  qNumber,
  qString,
} from "./parse.js";

/** Decodes MOF text: UTF-16 LE/BE with BOM, else UTF-8 (BOM dropped). */
export function decodeMofBytes(bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes.subarray(2));
  return new TextDecoder("utf-8").decode(bytes).replace(/^\uFEFF/, "");
}
