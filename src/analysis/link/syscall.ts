/**
 * x64 system-call stubs of ntdll.dll / win32u.dll: `mov r10, rcx` (4C 8B D1), `mov eax, N`
 * (B8 imm32), then a `syscall` (0F 05) within a few bytes (Windows 10 puts a
 * `test byte [SharedUserData+0x308], 1; jne` between them for the `int 2e` fallback).
 */
import type { PeImage } from "../../formats/pe/index.js";

/** How far after `mov eax, N` the `syscall` may sit. */
const SYSCALL_WINDOW = 24;

/** The system-call number of the stub at `rva`, or undefined when the bytes there are no stub. */
export function syscallNumberAt(pe: PeImage, rva: number): number | undefined {
  let b: Uint8Array;
  try {
    b = pe.bytesAt(rva, 8 + SYSCALL_WINDOW, "syscall stub");
  } catch {
    return undefined;
  }
  if (b[0] !== 0x4c || b[1] !== 0x8b || b[2] !== 0xd1 || b[3] !== 0xb8) return undefined;
  const n = b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24);
  for (let i = 8; i + 1 < b.length; i++) {
    if (b[i] === 0x0f && b[i + 1] === 0x05) return n >>> 0;
    if (b[i] === 0xc3) return undefined; // returned before any syscall
  }
  return undefined;
}
