import { FormatError } from "../../util/errors.js";
import type { PeImage } from "./image.js";

/** IMAGE_TLS_DIRECTORY{32,64}; addresses are VAs as stored, callbacks converted to RVAs. */
export interface TlsDirectory {
  startAddressOfRawData: bigint;
  endAddressOfRawData: bigint;
  addressOfIndex: bigint;
  addressOfCallBacks: bigint;
  sizeOfZeroFill: number;
  characteristics: number;
  /** RVAs of the TLS callbacks: code the loader runs before the entry point (extra entry points). */
  callbacks: number[];
}

/** Real images have a handful of callbacks; the cap stops a table without its NULL terminator. */
const MAX_CALLBACKS = 1024;

export function readTls(pe: PeImage): TlsDirectory | undefined {
  const dir = pe.directory("tls");
  if (!dir) return undefined;
  const v = pe.view;
  const off = pe.offsetOf(dir.rva, "TLS directory");
  const w = pe.is64 ? 8 : 4;
  v.check(off, 4 * w + 8, "TLS directory");
  const ptr = (o: number): bigint => (pe.is64 ? v.u64(o) : BigInt(v.u32(o)));
  const tls: TlsDirectory = {
    startAddressOfRawData: ptr(off),
    endAddressOfRawData: ptr(off + w),
    addressOfIndex: ptr(off + 2 * w),
    addressOfCallBacks: ptr(off + 3 * w),
    sizeOfZeroFill: v.u32(off + 4 * w),
    characteristics: v.u32(off + 4 * w + 4),
    callbacks: [],
  };
  if (tls.addressOfCallBacks === 0n) return tls;
  const table = pe.vaToRva(tls.addressOfCallBacks);
  if (table === undefined)
    throw new FormatError(
      "pe",
      `TLS callback table VA 0x${tls.addressOfCallBacks.toString(16)} is outside the image`,
    );
  for (let i = 0; ; i++) {
    if (i >= MAX_CALLBACKS)
      throw new FormatError("pe", `TLS callback table has no terminator within ${MAX_CALLBACKS}`);
    const at = pe.offsetOf(table + i * w, "TLS callback table");
    const va = ptr(at);
    if (va === 0n) break;
    const rva = pe.vaToRva(va);
    if (rva === undefined)
      throw new FormatError("pe", `TLS callback VA 0x${va.toString(16)} is outside the image`, at);
    tls.callbacks.push(rva);
  }
  return tls;
}
