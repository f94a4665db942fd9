import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";
import { gpr64 } from "../../src/analysis/disasm.js";

const { Register } = createRequire(import.meta.url)("iced-x86") as { Register: Record<string, number> };

test("gpr64 maps every 8/16/32-bit general register to its 64-bit register (iced's own enum as oracle)", () => {
  const full = [
    "RAX",
    "RCX",
    "RDX",
    "RBX",
    "RSP",
    "RBP",
    "RSI",
    "RDI",
    ...Array.from({ length: 8 }, (_, i) => `R${i + 8}`),
  ];
  const low8 = [
    "AL",
    "CL",
    "DL",
    "BL",
    "SPL",
    "BPL",
    "SIL",
    "DIL",
    ...Array.from({ length: 8 }, (_, i) => `R${i + 8}L`),
  ];
  const w16 = [
    "AX",
    "CX",
    "DX",
    "BX",
    "SP",
    "BP",
    "SI",
    "DI",
    ...Array.from({ length: 8 }, (_, i) => `R${i + 8}W`),
  ];
  const d32 = [
    "EAX",
    "ECX",
    "EDX",
    "EBX",
    "ESP",
    "EBP",
    "ESI",
    "EDI",
    ...Array.from({ length: 8 }, (_, i) => `R${i + 8}D`),
  ];
  full.forEach((r64, i) => {
    for (const sub of [low8[i]!, w16[i]!, d32[i]!, r64]) {
      assert.equal(gpr64(Register[sub]!), Register[r64], `${sub} → ${r64}`);
    }
  });
  ["AH", "CH", "DH", "BH"].forEach((hi, i) => {
    assert.equal(gpr64(Register[hi]!), Register[full[i]!], hi);
  });
});
