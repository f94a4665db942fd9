/**
 * The smallest registry hive a real tool accepts: a base block, one 4 KiB bin holding a root key,
 * its security cell and one free cell. hivex cannot create hives from nothing, so tests write this
 * skeleton and let `hivexsh -w` (Debian libhivex-bin) add every key and value they read back: the
 * structures under test are written by the real tool, not by us.
 */
export function emptyHive(rootName = "ROOT"): Uint8Array {
  const out = new Uint8Array(4096 + 4096);
  const dv = new DataView(out.buffer);
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  };
  // Base block.
  ascii(0, "regf");
  dv.setUint32(4, 1, true);
  dv.setUint32(8, 1, true);
  dv.setUint32(20, 1, true); // major
  dv.setUint32(24, 5, true); // minor
  dv.setUint32(28, 0, true); // primary file
  dv.setUint32(32, 1, true); // direct memory load format
  const rootOffset = 0x20;
  dv.setUint32(36, rootOffset, true);
  dv.setUint32(40, 4096, true); // hive bins size
  dv.setUint32(44, 1, true);
  let sum = 0;
  for (let i = 0; i < 508; i += 4) sum ^= dv.getUint32(i, true);
  dv.setUint32(508, sum >>> 0, true);

  // Hive bin header.
  const bin = 4096;
  ascii(bin, "hbin");
  dv.setUint32(bin + 4, 0, true);
  dv.setUint32(bin + 8, 4096, true);

  // Root key node.
  const nk = bin + rootOffset;
  const nkSize = align8(4 + 76 + rootName.length);
  const skOffset = rootOffset + nkSize;
  dv.setInt32(nk, -nkSize, true);
  ascii(nk + 4, "nk");
  dv.setUint16(nk + 6, 0x2c, true); // hive entry | no delete | compressed (8-bit) name
  dv.setUint32(nk + 4 + 28, 0xffffffff, true); // subkey list
  dv.setUint32(nk + 4 + 32, 0xffffffff, true); // volatile subkey list
  dv.setUint32(nk + 4 + 40, 0xffffffff, true); // value list
  dv.setUint32(nk + 4 + 44, skOffset, true); // security
  dv.setUint32(nk + 4 + 48, 0xffffffff, true); // class name
  dv.setUint16(nk + 4 + 72, rootName.length, true);
  ascii(nk + 4 + 76, rootName);

  // Security cell: a self-relative descriptor with no owner, group or ACLs, referenced once.
  const sk = bin + skOffset;
  const descriptor = 20;
  const skSize = align8(4 + 20 + descriptor);
  dv.setInt32(sk, -skSize, true);
  ascii(sk + 4, "sk");
  dv.setUint32(sk + 4 + 4, skOffset, true); // flink: itself
  dv.setUint32(sk + 4 + 8, skOffset, true); // blink: itself
  dv.setUint32(sk + 4 + 12, 1, true); // reference count
  dv.setUint32(sk + 4 + 16, descriptor, true);
  out[sk + 4 + 20] = 1; // revision
  dv.setUint16(sk + 4 + 22, 0x8000, true); // SE_SELF_RELATIVE

  // The rest of the bin is one free cell.
  const free = skOffset + skSize;
  dv.setInt32(bin + free, 4096 - free, true);
  return out;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
