import { createHash } from "node:crypto";
import { formatGuid } from "../../util/bytes.js";

/** EventSource/TraceLogging namespace {482C2DB2-C390-47C8-87F8-1A15BFC130FB}, bytes in big-endian order. */
const NAMESPACE = Uint8Array.from([
  0x48, 0x2c, 0x2d, 0xb2, 0xc3, 0x90, 0x47, 0xc8, 0x87, 0xf8, 0x1a, 0x15, 0xbf, 0xc1, 0x30, 0xfb,
]);

/**
 * The provider GUID ETW tools derive from a provider name: SHA-1 over the namespace bytes and the
 * upper-cased name in UTF-16BE, first 16 bytes, version nibble 5 in byte 7, read as a Windows
 * (little-endian) GUID. Returns lower-case text without braces.
 */
export function guidFromProviderName(name: string): string {
  const upper = name.toUpperCase();
  const utf16be = new Uint8Array(upper.length * 2);
  for (let i = 0; i < upper.length; i++) {
    const c = upper.charCodeAt(i);
    utf16be[2 * i] = c >> 8;
    utf16be[2 * i + 1] = c & 0xff;
  }
  const digest = createHash("sha1").update(NAMESPACE).update(utf16be).digest();
  const b = new Uint8Array(digest.subarray(0, 16));
  b[7] = (b[7]! & 0x0f) | 0x50;
  return formatGuid(b);
}
