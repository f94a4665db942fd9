import { ByteView } from "../../../util/bytes.js";
import { FormatError } from "../../../util/errors.js";
import { stitchStream } from "./stream.js";
import type { SuperBlock } from "./superblock.js";

/** Stream size used by the MSF directory for a deleted / nil stream. */
export const NIL_STREAM_SIZE = 0xffffffff;

export interface StreamEntry {
  /** Size in bytes; 0 for nil streams (see `nil`). */
  size: number;
  nil: boolean;
  blocks: number[];
}

/**
 * Reads the stream directory: the superblock points at block(s) listing the directory's blocks
 * (the block map indirection); the directory is `numStreams, sizes[], blocks[][]`.
 * Every block is checked to be inside the file and owned by at most one stream, which bounds the
 * total size of all streams by the file size (no amplification, no loops).
 */
export function parseStreamDirectory(file: Uint8Array, sb: SuperBlock): StreamEntry[] {
  const { blockSize, numBlocks, numDirectoryBytes } = sb;
  const used = new Uint8Array(numBlocks);
  used[0] = 1; // the superblock
  const claim = (b: number, what: string) => {
    if (b >= numBlocks)
      throw new FormatError("pdb", `${what}: block ${b} is beyond the ${numBlocks} blocks of the file`);
    if (used[b])
      throw new FormatError("pdb", `${what}: block ${b} is used twice (corrupt or looping block map)`);
    used[b] = 1;
  };
  const dirBlockCount = Math.ceil(numDirectoryBytes / blockSize);
  // Block numbers of the directory, listed across the block-map blocks.
  const mapBytes = stitchStream(file, blockSize, sb.blockMapBlocks, dirBlockCount * 4, "MSF block map");
  const mapView = new ByteView(mapBytes, "pdb");
  const dirBlocks: number[] = [];
  for (let i = 0; i < dirBlockCount; i++) {
    const b = mapView.u32(i * 4);
    claim(b, "MSF stream directory");
    dirBlocks.push(b);
  }
  const dir = new ByteView(
    stitchStream(file, blockSize, dirBlocks, numDirectoryBytes, "MSF stream directory"),
    "pdb",
  );
  const numStreams = dir.u32(0);
  if (numStreams > (numDirectoryBytes - 4) / 4)
    throw new FormatError(
      "pdb",
      `MSF directory claims ${numStreams} streams but holds only ${numDirectoryBytes} bytes`,
      0,
    );
  const entries: StreamEntry[] = [];
  let pos = 4 + numStreams * 4;
  for (let i = 0; i < numStreams; i++) {
    const raw = dir.u32(4 + i * 4);
    const nil = raw === NIL_STREAM_SIZE;
    const size = nil ? 0 : raw;
    const count = Math.ceil(size / blockSize);
    if (pos + count * 4 > numDirectoryBytes)
      throw new FormatError(
        "pdb",
        `MSF stream ${i} needs ${count} blocks (size ${size}) but the directory ends first`,
        4 + i * 4,
      );
    const blocks: number[] = new Array(count);
    for (let k = 0; k < count; k++) {
      const b = dir.u32(pos);
      claim(b, `MSF stream ${i}`);
      blocks[k] = b;
      pos += 4;
    }
    entries.push({ size, nil, blocks });
  }
  return entries;
}
