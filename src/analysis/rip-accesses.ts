/**
 * One index per decoded image of its RIP-relative memory accesses that can change or expose a
 * global: the writes (operand 0 a memory operand that is not only read) and the address-takes
 * (`lea r,[rip+X]`). Questions such as "does anything but these stores write this slot?" or
 * "does anything fill this handle?" (registration.ts `publishedHandleLocation`, recall.ts
 * `unwrittenHandle`) ask it instead of scanning the image each.
 */
import { type Code, M, Op, Reg } from "./disasm.js";
import iced from "./iced.js";

/** Instructions whose memory operand 0 is only read. */
const READS_OPERAND0 = new Set<number>([M.Cmp, M.Test, iced.Mnemonic.Bt]);

export interface RipAccesses {
  /** Instructions writing global bytes in [lo, hi), in address order. */
  writesIn(lo: number, hi: number): number[];
  /** Does an instruction take an address in [lo, hi)? */
  addressTakenIn(lo: number, hi: number): boolean;
}

/** Widest RIP-relative write (a 64-byte vector store): how far before lo a write may start. */
const WIDEST_WRITE = 64;

const indexes = new WeakMap<Code, RipAccesses>();

export function ripAccesses(code: Code): RipAccesses {
  let index = indexes.get(code);
  if (!index) indexes.set(code, (index = buildIndex(code)));
  return index;
}

function buildIndex(code: Code): RipAccesses {
  const writes: number[] = [];
  const leas: number[] = [];
  for (let i = 0; i < code.count; i++) {
    if (code.memBase[i] !== Reg.RIP) continue;
    const m = code.mnem[i]!;
    if (m === M.Lea) leas.push(code.addr[i]!);
    else if (code.op0[i] === Op.Mem && !READS_OPERAND0.has(m)) writes.push(i);
  }
  writes.sort((a, b) => code.addr[a]! - code.addr[b]!);
  leas.sort((a, b) => a - b);
  const writeAddr = writes.map((i) => code.addr[i]!);
  return {
    writesIn(lo, hi) {
      const out: number[] = [];
      for (
        let k = firstAtOrAfter(writeAddr, lo - WIDEST_WRITE);
        k < writes.length && writeAddr[k]! < hi;
        k++
      ) {
        const i = writes[k]!;
        if (writeAddr[k]! + (code.memSize[i] || 8) > lo) out.push(i);
      }
      return out;
    },
    addressTakenIn(lo, hi) {
      const k = firstAtOrAfter(leas, lo);
      return k < leas.length && leas[k]! < hi;
    },
  };
}

/** Index of the first element >= x of an ascending array. */
function firstAtOrAfter(sorted: number[], x: number): number {
  let a = 0;
  let b = sorted.length;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (sorted[mid]! < x) a = mid + 1;
    else b = mid;
  }
  return a;
}
