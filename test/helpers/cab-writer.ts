import { deflateRawSync } from "node:zlib";
import { cabChecksum } from "../../src/symbols/cab.js";
import { concatBytes } from "../../src/util/bytes.js";

/**
 * Minimal MS-CAB writer for tests: one folder, MSZIP ("CK" + raw deflate per 32 KB block, each
 * block's window primed with the previous block) or stored. Writes CFDATA checksums.
 */
export function writeCabinet(
  files: Array<{ name: string; data: Uint8Array }>,
  options: { compression?: "mszip" | "none"; checksums?: boolean } = {},
): Uint8Array {
  const mszip = (options.compression ?? "mszip") === "mszip";
  const checksums = options.checksums ?? true;
  const stream = concatBytes(files.map((f) => f.data));
  const blocks: Uint8Array[] = [];
  for (let off = 0; off < stream.length || (off === 0 && blocks.length === 0); off += 0x8000) {
    const raw = stream.subarray(off, Math.min(stream.length, off + 0x8000));
    let payload: Uint8Array = raw;
    if (mszip) {
      const dictionary = off > 0 ? stream.subarray(off - 0x8000, off) : undefined;
      const deflated = deflateRawSync(raw, dictionary ? { dictionary } : {});
      payload = new Uint8Array(2 + deflated.length);
      payload.set([0x43, 0x4b]);
      payload.set(deflated, 2);
    }
    const block = new Uint8Array(8 + payload.length);
    const dv = new DataView(block.buffer);
    dv.setUint16(4, payload.length, true);
    dv.setUint16(6, raw.length, true);
    block.set(payload, 8);
    if (checksums) dv.setUint32(0, cabChecksum(block.subarray(4, 8), cabChecksum(payload, 0)), true);
    blocks.push(block);
    if (stream.length === 0) break;
  }
  const enc = new TextEncoder();
  const names = files.map((f) => enc.encode(f.name));
  const fileTableSize = names.reduce((n, b) => n + 16 + b.length + 1, 0);
  const filesOffset = 36 + 8;
  const dataOffset = filesOffset + fileTableSize;
  const size = dataOffset + blocks.reduce((n, b) => n + b.length, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set(enc.encode("MSCF"), 0);
  dv.setUint32(8, size, true);
  dv.setUint32(16, filesOffset, true);
  out[24] = 3;
  out[25] = 1;
  dv.setUint16(26, 1, true);
  dv.setUint16(28, files.length, true);
  // CFFOLDER
  dv.setUint32(36, dataOffset, true);
  dv.setUint16(40, blocks.length, true);
  dv.setUint16(42, mszip ? 1 : 0, true);
  let pos = filesOffset;
  let folderOffset = 0;
  files.forEach((f, i) => {
    dv.setUint32(pos, f.data.length, true);
    dv.setUint32(pos + 4, folderOffset, true);
    dv.setUint16(pos + 8, 0, true);
    dv.setUint16(pos + 14, 0x20, true); // _A_ARCH
    out.set(names[i]!, pos + 16);
    pos += 16 + names[i]!.length + 1;
    folderOffset += f.data.length;
  });
  pos = dataOffset;
  for (const b of blocks) {
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}
