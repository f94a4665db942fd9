import type { PeImage } from "./image.js";
import { findResources, RT_VERSION, resourceData } from "./resources.js";

const FIXED_FILE_INFO_SIGNATURE = 0xfeef04bd;

export interface FileVersion {
  major: number;
  minor: number;
  build: number;
  revision: number;
}

/**
 * The FileVersion of VS_FIXEDFILEINFO in the image's RT_VERSION resource. The fixed info follows
 * the "VS_VERSION_INFO" key at a 4-byte boundary, so we look for its signature in the first bytes
 * rather than walking the variable-length header.
 */
export function readFileVersion(pe: PeImage): FileVersion | undefined {
  const leaf = findResources(pe, RT_VERSION)[0];
  if (!leaf) return undefined;
  const data = resourceData(pe, leaf);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i + 16 <= data.length && i < 0x100; i += 4) {
    if (dv.getUint32(i, true) !== FIXED_FILE_INFO_SIGNATURE) continue;
    const ms = dv.getUint32(i + 8, true);
    const ls = dv.getUint32(i + 12, true);
    return { major: ms >>> 16, minor: ms & 0xffff, build: ls >>> 16, revision: ls & 0xffff };
  }
  return undefined;
}
