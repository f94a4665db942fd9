import type { ByteView } from "../../../util/bytes.js";
import { FormatError } from "../../../util/errors.js";

/** "Microsoft C/C++ MSF 7.00\r\n\x1ADS\0\0\0" — the Big MSF magic (32 bytes). */
export const MSF7_MAGIC = new TextEncoder().encode("Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0");
/** Prefix of the obsolete Small MSF ("program database 2.00"), recognised only to reject it clearly. */
const MSF2_PREFIX = new TextEncoder().encode("Microsoft C/C++ program database 2.00");

export interface SuperBlock {
  blockSize: number;
  freeBlockMapBlock: number;
  numBlocks: number;
  numDirectoryBytes: number;
  /** Block numbers that hold the list of directory block numbers (the block map indirection). */
  blockMapBlocks: number[];
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

export function isMsf7(bytes: Uint8Array): boolean {
  return startsWith(bytes, MSF7_MAGIC);
}

/**
 * Reads the MSF 7.00 superblock. Validates block size and that every block the file claims
 * actually exists in the data, so later stream reads can trust block numbers < numBlocks.
 */
export function parseSuperBlock(view: ByteView): SuperBlock {
  const bytes = view.bytes;
  if (startsWith(bytes, MSF2_PREFIX))
    throw new FormatError("pdb", "Small MSF (program database 2.00) PDBs are obsolete and not supported", 0);
  if (!isMsf7(bytes)) throw new FormatError("pdb", "not an MSF 7.00 file (bad magic)", 0);
  const blockSize = view.u32(32);
  const freeBlockMapBlock = view.u32(36);
  const numBlocks = view.u32(40);
  const numDirectoryBytes = view.u32(44);
  if (blockSize < 512 || blockSize > 65536 || (blockSize & (blockSize - 1)) !== 0)
    throw new FormatError("pdb", `MSF block size ${blockSize} is not a power of two in 512..65536`, 32);
  if (numBlocks === 0 || numBlocks * blockSize > bytes.length)
    throw new FormatError(
      "pdb",
      `MSF claims ${numBlocks} blocks of ${blockSize} bytes but file has only ${bytes.length} bytes (truncated?)`,
      40,
    );
  if (numDirectoryBytes < 4 || numDirectoryBytes > numBlocks * blockSize)
    throw new FormatError("pdb", `MSF stream directory size ${numDirectoryBytes} is impossible`, 44);
  const directoryBlocks = Math.ceil(numDirectoryBytes / blockSize);
  const mapCount = Math.ceil((directoryBlocks * 4) / blockSize);
  if (52 + mapCount * 4 > blockSize)
    throw new FormatError(
      "pdb",
      `MSF block map list (${mapCount} entries) does not fit in the superblock`,
      52,
    );
  const blockMapBlocks: number[] = [];
  for (let i = 0; i < mapCount; i++) {
    const b = view.u32(52 + i * 4);
    if (b === 0 || b >= numBlocks)
      throw new FormatError(
        "pdb",
        `MSF block map address ${b} is outside the file (${numBlocks} blocks)`,
        52 + i * 4,
      );
    blockMapBlocks.push(b);
  }
  return { blockSize, freeBlockMapBlock, numBlocks, numDirectoryBytes, blockMapBlocks };
}
