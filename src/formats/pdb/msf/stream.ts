import { FormatError } from "../../../util/errors.js";

/**
 * Concatenates the pages of one MSF stream into a contiguous buffer. When the pages happen to
 * be consecutive in the file the result is a zero-copy view.
 */
export function stitchStream(
  file: Uint8Array,
  blockSize: number,
  blocks: readonly number[],
  size: number,
  what: string,
): Uint8Array {
  if (size > blocks.length * blockSize)
    throw new FormatError("pdb", `${what}: size ${size} exceeds its ${blocks.length} blocks`);
  if (blocks.length === 0) return new Uint8Array(0);
  let contiguous = true;
  for (let i = 1; i < blocks.length; i++) {
    if (blocks[i] !== blocks[i - 1]! + 1) {
      contiguous = false;
      break;
    }
  }
  if (contiguous) {
    const start = blocks[0]! * blockSize;
    if (start + size > file.length)
      throw new FormatError("pdb", `${what}: stream runs past end of file`, start);
    return file.subarray(start, start + size);
  }
  const out = new Uint8Array(size);
  let done = 0;
  for (const b of blocks) {
    if (done >= size) break;
    const n = Math.min(blockSize, size - done);
    const start = b * blockSize;
    if (start + n > file.length)
      throw new FormatError("pdb", `${what}: block ${b} is past end of file`, start);
    out.set(file.subarray(start, start + n), done);
    done += n;
  }
  return out;
}
