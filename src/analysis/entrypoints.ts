/**
 * Entry points: with symbols, Nt* functions (system services; Zw* exports map to their Nt*) and
 * exports; without, exports, the image entry point and — for drivers — the dispatch routines
 * DriverEntry stores into DRIVER_OBJECT.MajorFunction[] (+0x70 + 8*IRP_MJ) and DriverUnload (+0x68).
 */
import { Flow, gpr64, indexAt, M, Op, Reg } from "./disasm.js";
import { functionAt, functionName } from "./functions.js";
import type { LoadedProgram } from "./program.js";

export interface EntryPoint {
  name: string;
  rva: number;
  kind: "syscall" | "export" | "entry" | "dispatch";
}

const IRP_MJ = [
  "CREATE",
  "CREATE_NAMED_PIPE",
  "CLOSE",
  "READ",
  "WRITE",
  "QUERY_INFORMATION",
  "SET_INFORMATION",
  "QUERY_EA",
  "SET_EA",
  "FLUSH_BUFFERS",
  "QUERY_VOLUME_INFORMATION",
  "SET_VOLUME_INFORMATION",
  "DIRECTORY_CONTROL",
  "FILE_SYSTEM_CONTROL",
  "DEVICE_CONTROL",
  "INTERNAL_DEVICE_CONTROL",
  "SHUTDOWN",
  "LOCK_CONTROL",
  "CLEANUP",
  "CREATE_MAILSLOT",
  "QUERY_SECURITY",
  "SET_SECURITY",
  "POWER",
  "SYSTEM_CONTROL",
  "DEVICE_CHANGE",
  "QUERY_QUOTA",
  "SET_QUOTA",
  "PNP",
];

export function findEntryPoints(p: LoadedProgram): EntryPoint[] {
  const out: EntryPoint[] = [];
  const seen = new Set<string>();
  const add = (e: EntryPoint): void => {
    const key = `${e.name}@${e.rva}`;
    if (seen.has(key) || !p.functions.byRva.has(e.rva)) return;
    seen.add(key);
    out.push(e);
  };
  const ntNames = new Set<string>();
  for (const f of p.symbols?.functions ?? []) {
    if (/^Nt[A-Z]/.test(f.name)) {
      ntNames.add(f.name);
      add({ name: f.name, rva: f.rva, kind: "syscall" });
    }
  }
  for (const e of p.exports) {
    if (!e.name || e.forwarder) continue;
    // A Zw* export is the kernel-mode way into the Nt* service of the same name.
    if (/^Zw[A-Z]/.test(e.name) && ntNames.has("Nt" + e.name.slice(2))) continue;
    add({ name: e.name, rva: e.rva, kind: "export" });
  }
  const ep = p.pe.headers.entryPointRva;
  if (ep) {
    const f = p.functions.byRva.get(ep);
    const name = f?.name ?? (isDriver(p) ? "DriverEntry" : "EntryPoint");
    add({ name, rva: ep, kind: "entry" });
    if (isDriver(p)) for (const d of dispatchRoutines(p, ep)) add(d);
  }
  return out;
}

function isDriver(p: LoadedProgram): boolean {
  for (const name of p.imports.values())
    if (name === "IoCreateDevice" || name === "IofCompleteRequest") return true;
  return p.pe.headers.subsystem === 1;
}

/**
 * Stores of code addresses into [reg+0x68..0x150] in DriverEntry and the functions it calls
 * directly (drivers often initialise the DRIVER_OBJECT in a helper).
 */
export function dispatchRoutines(p: LoadedProgram, entryRva: number): EntryPoint[] {
  const out: EntryPoint[] = [];
  const { code, functions, graph } = p;
  const values = p.context.values;
  // Which parameter of each scanned function holds the DRIVER_OBJECT: DriverEntry's first; for a
  // function DriverEntry calls, the parameter DriverEntry passes its own first parameter in.
  const driverParam = new Map<number, Set<number>>([[entryRva, new Set([0])]]);
  for (const s of graph.callees.get(entryRva) ?? []) {
    if (s.callee.kind !== "function" || s.callee.rva === entryRva) continue;
    for (let n = 0; n < 4; n++) {
      const args = values.argument(s.index, n);
      // GsDriverEntry keeps RCX in R9 across __security_init_cookie, then tail-jumps to the real
      // DriverEntry: an unresolved first argument of that tail jump is still the DRIVER_OBJECT.
      const stub = s.tail && n === 0 && args.every((v) => v.k === "unknown");
      if (!stub && !args.some((v) => v.k === "param" && v.n === 0)) continue;
      const set = driverParam.get(s.callee.rva) ?? new Set<number>();
      set.add(n);
      driverParam.set(s.callee.rva, set);
    }
  }
  for (const [fnRva, params] of driverParam) {
    const f = functions.byRva.get(fnRva);
    if (!f) continue;
    const loaded = new Map<number, number>(); // register → code rva last loaded by lea
    for (let i = f.first; i < f.last; i++) {
      if (
        code.mnem[i] === M.Lea &&
        code.op0[i] === Op.Reg &&
        code.op1[i] === Op.Mem &&
        code.memBase[i] === Reg.RIP
      ) {
        const t = code.addr[i]!;
        if (indexAt(code, t) >= 0 && functionAt(functions, t)?.rva === t) loaded.set(gpr64(code.reg0[i]!), t);
        continue;
      }
      if (
        code.mnem[i] === M.Mov &&
        code.op0[i] === Op.Mem &&
        code.op1[i] === Op.Reg &&
        code.memIndex[i] === 0
      ) {
        const target = loaded.get(gpr64(code.reg1[i]!));
        const disp = code.addr[i]!;
        const base = code.memBase[i]!;
        if (target === undefined || base === Reg.RIP || base === Reg.RSP) continue;
        // The store must go into the DRIVER_OBJECT, not another table of routines (FAST_IO_DISPATCH).
        if (!values.registerAt(i, gpr64(base)).some((v) => v.k === "param" && params.has(v.n))) continue;
        const fn = functions.byRva.get(target)!;
        if (disp === 0x68)
          out.push({ name: `DriverUnload:${functionName(fn)}`, rva: target, kind: "dispatch" });
        else if (disp >= 0x70 && disp < 0x70 + 8 * IRP_MJ.length && (disp - 0x70) % 8 === 0)
          out.push({
            name: `IRP_MJ_${IRP_MJ[(disp - 0x70) / 8]}:${functionName(fn)}`,
            rva: target,
            kind: "dispatch",
          });
        continue;
      }
      if (code.flow[i] === Flow.Call || code.flow[i] === Flow.IndirectCall) loaded.clear();
    }
  }
  return out;
}
