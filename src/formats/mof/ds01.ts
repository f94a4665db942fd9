import { FormatError } from "../../util/errors.js";

/**
 * DoubleSpace ("DS-01") decompression, the LZ77 variant that compresses binary MOF.
 * Stream: "DS" + 16-bit big-endian version, then bits read LSB-first from little-endian bytes.
 * Each token starts with 2 bits: 1 = literal 0x80|7 bits, 2 = literal 7 bits,
 * 0 = match with 6-bit offset, 3 = one more bit: 0 → 8-bit offset + 64, 1 → 12-bit offset + 320
 * (raw 0xFFF is a sync marker without a length; it ends the stream when < 16 bits remain).
 * A match length is n zero bits, a one bit, then n bits v: length = 2^n + v + 1.
 */
export function ds01Decompress(input: Uint8Array, outputSize: number): Uint8Array {
  if (input.length < 4 || input[0] !== 0x44 || input[1] !== 0x53)
    throw new FormatError("ds01", 'compressed data does not start with "DS"');
  if (outputSize > 64 * 1024 * 1024)
    throw new FormatError("ds01", `output size ${outputSize} is implausible`);
  const out = new Uint8Array(outputSize);
  let o = 0;
  let pos = 4;
  let buf = 0;
  let nbits = 0;
  const bits = (n: number): number => {
    while (nbits < n) {
      if (pos >= input.length)
        throw new FormatError("ds01", `compressed stream ends early (${o} of ${outputSize} bytes)`, pos);
      buf |= input[pos++]! << nbits;
      nbits += 8;
    }
    const v = buf & ((1 << n) - 1);
    buf >>>= n;
    nbits -= n;
    return v;
  };
  while (o < outputSize) {
    const cmd = bits(2);
    if (cmd === 1 || cmd === 2) {
      out[o++] = bits(7) | (cmd === 1 ? 0x80 : 0);
      continue;
    }
    let offset: number;
    if (cmd === 0) offset = bits(6);
    else if (bits(1) === 1) {
      const raw = bits(12);
      if (raw === 0xfff) {
        if ((input.length - pos) * 8 + nbits < 16) break;
        continue;
      }
      offset = raw + 320;
    } else offset = bits(8) + 64;
    let n = 0;
    while (bits(1) === 0) {
      if (++n > 12) throw new FormatError("ds01", "bad match length", pos);
    }
    const length = (1 << n) + bits(n) + 1;
    if (offset === 0 || offset > o)
      throw new FormatError("ds01", `match offset ${offset} outside output (at ${o})`, pos);
    if (o + length > outputSize) throw new FormatError("ds01", "match runs past the declared size", pos);
    for (let k = 0; k < length; k++, o++) out[o] = out[o - offset]!;
  }
  if (o !== outputSize) throw new FormatError("ds01", `decompressed ${o} bytes, header says ${outputSize}`);
  return out;
}
