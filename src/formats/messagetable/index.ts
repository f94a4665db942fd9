import { ByteView } from "../../util/bytes.js";
import { FormatError } from "../../util/errors.js";

/**
 * RT_MESSAGETABLE resource (MESSAGE_RESOURCE_DATA): `u32 NumberOfBlocks`, then blocks
 * `{u32 LowId, u32 HighId, u32 OffsetToEntries}`; each block's entries are consecutive
 * `{u16 Length (whole entry), u16 Flags, text}` records for LowId..HighId.
 * Flags: 0 = ANSI (code page of the resource), 1 = UTF-16LE, 2 = UTF-8.
 */

const F = "messagetable";
export const MESSAGE_ANSI = 0;
export const MESSAGE_UNICODE = 1;
export const MESSAGE_UTF8 = 2;

export interface MessageEntry {
  id: number;
  /** 0 ANSI, 1 UTF-16, 2 UTF-8. */
  encoding: number;
  /** Text without trailing NULs and without the single trailing CR/LF (or LF) message compilers append. */
  text: string;
}

function ansiDecoder(codePage: number): { decode(b: Uint8Array): string } {
  if (codePage === 0 || codePage === 1252) return new TextDecoder("windows-1252");
  try {
    return new TextDecoder(codePage === 65001 ? "utf-8" : `windows-${codePage}`);
  } catch {
    return new TextDecoder("windows-1252"); // unknown code page: closest single-byte reading
  }
}

const utf16 = new TextDecoder("utf-16le");
const utf8 = new TextDecoder("utf-8");

/** Parses a message table; `codePage` is the resource leaf's code page (for ANSI entries). */
export function parseMessageTable(bytes: Uint8Array, codePage = 0): MessageEntry[] {
  const v = new ByteView(bytes, F);
  const blocks = v.u32(0);
  v.check(4, blocks * 12, `block directory (${blocks} blocks)`);
  const ansi = ansiDecoder(codePage);
  const out: MessageEntry[] = [];
  // Blocks of a valid table don't overlap, so all entries together fit in the data once.
  let budget = Math.floor(bytes.length / 4);
  for (let b = 0; b < blocks; b++) {
    const at = 4 + b * 12;
    const low = v.u32(at);
    const high = v.u32(at + 4);
    let p = v.u32(at + 8);
    if (high < low) throw new FormatError(F, `block ${b}: HighId 0x${high.toString(16)} < LowId`, at);
    // Each entry takes at least 4 bytes: bounds the loop before reading anything.
    if ((high - low + 1) * 4 > bytes.length - Math.min(p, bytes.length))
      throw new FormatError(F, `block ${b}: ${high - low + 1} entries cannot fit`, at);
    budget -= high - low + 1;
    if (budget < 0)
      throw new FormatError(F, `block ${b}: blocks overlap (more entries than the table holds)`, at);
    for (let id = low; id <= high; id++) {
      const length = v.u16(p);
      const flags = v.u16(p + 2);
      if (length < 4) throw new FormatError(F, `message 0x${id.toString(16)}: entry length ${length}`, p);
      const raw = v.slice(p + 4, length - 4, `message 0x${id.toString(16)}`);
      let text: string;
      if (flags === MESSAGE_UNICODE) text = utf16.decode(raw.subarray(0, raw.length & ~1));
      else if (flags === MESSAGE_UTF8) text = utf8.decode(raw);
      else if (flags === MESSAGE_ANSI) text = ansi.decode(raw);
      else throw new FormatError(F, `message 0x${id.toString(16)}: unknown flags ${flags}`, p + 2);
      out.push({ id, encoding: flags, text: cleanText(text) });
      p += length;
    }
  }
  return out;
}

function cleanText(t: string): string {
  const nul = t.indexOf("\0");
  if (nul >= 0) t = t.slice(0, nul);
  return t.endsWith("\r\n") ? t.slice(0, -2) : t.endsWith("\n") ? t.slice(0, -1) : t;
}

/** id → text map of one or more tables (earlier tables win on duplicate ids). */
export function messageMap(tables: MessageEntry[][]): Map<number, string> {
  const m = new Map<number, string>();
  for (const t of tables) for (const e of t) if (!m.has(e.id)) m.set(e.id, e.text);
  return m;
}
