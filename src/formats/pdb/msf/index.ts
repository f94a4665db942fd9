import { ByteView } from "../../../util/bytes.js";
import { FormatError } from "../../../util/errors.js";
import { parseStreamDirectory, type StreamEntry } from "./directory.js";
import { stitchStream } from "./stream.js";
import { parseSuperBlock, type SuperBlock } from "./superblock.js";

export { NIL_STREAM_SIZE, parseStreamDirectory, type StreamEntry } from "./directory.js";
export { stitchStream } from "./stream.js";
export { isMsf7, MSF7_MAGIC, parseSuperBlock, type SuperBlock } from "./superblock.js";

/** An MSF 7.00 container: a set of numbered streams, each read (and cached) on demand. */
export class MsfFile {
  readonly superBlock: SuperBlock;
  readonly streams: StreamEntry[];
  private readonly cache = new Map<number, Uint8Array>();

  constructor(readonly bytes: Uint8Array) {
    this.superBlock = parseSuperBlock(new ByteView(bytes, "pdb"));
    this.streams = parseStreamDirectory(bytes, this.superBlock);
  }

  get streamCount(): number {
    return this.streams.length;
  }

  /** True when stream `index` exists and is not nil. */
  has(index: number): boolean {
    const e = this.streams[index];
    return e !== undefined && !e.nil;
  }

  /** The bytes of stream `index`; throws FormatError when it doesn't exist. */
  stream(index: number, what = `stream ${index}`): Uint8Array {
    const cached = this.cache.get(index);
    if (cached) return cached;
    const e = this.streams[index];
    if (!e || e.nil)
      throw new FormatError(
        "pdb",
        `${what}: MSF stream ${index} does not exist (${this.streams.length} streams)`,
      );
    const data = stitchStream(this.bytes, this.superBlock.blockSize, e.blocks, e.size, what);
    this.cache.set(index, data);
    return data;
  }

  view(index: number, what?: string): ByteView {
    return new ByteView(this.stream(index, what), "pdb");
  }
}
