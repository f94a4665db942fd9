/**
 * Runs Debian's llvm-pdbutil-14 (an independent PDB reader) and parses the parts of its text
 * output the PDB tests compare against: summary, modules, publics, globals, module symbols and
 * the DBI header (from pdb2yaml).
 */
import { spawnSync } from "node:child_process";

function run(args: string[]): string {
  const r = spawnSync("llvm-pdbutil-14", args, { encoding: "utf8", maxBuffer: 512 << 20 });
  if (r.error) throw new Error(`cannot run llvm-pdbutil-14 (install Debian llvm-14): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`llvm-pdbutil-14 ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

export interface OracleRecord {
  /** Offset printed before the `|` (symbol record stream / module stream offset). */
  offset: number;
  kind: string;
  name: string;
  /** Indented detail lines that follow the header line. */
  details: string[];
}

export interface PdbOracle {
  guid: string;
  age: number;
  /** "Features:" bit mask: 1 has IPI (VC140), 2 minimal debug info, 4 no type merging. */
  features: number;
  dbiAge: number;
  machine: string;
  modules: string[];
  publics: OracleRecord[];
  globals: OracleRecord[];
  /** Records of every module symbol stream (all modules concatenated). */
  symbols: OracleRecord[];
}

/** Splits the dump into its titled sections ("Summary", "Public Symbols", ...). */
function sections(text: string): Map<string, string[]> {
  const lines = text.split("\n");
  const out = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (let i = 0; i < lines.length; i++) {
    if (/^=+$/.test(lines[i + 1]?.trim() ?? "") && lines[i]!.trim() !== "") {
      cur = [];
      out.set(lines[i]!.trim(), cur);
      i++;
      continue;
    }
    cur?.push(lines[i]!);
  }
  return out;
}

const RECORD = /^\s*(\d+) \| (S_[A-Z0-9_]+) \[size = \d+\](?: `(.*)`)?/;

function records(lines: string[] = []): OracleRecord[] {
  const out: OracleRecord[] = [];
  for (const line of lines) {
    const m = RECORD.exec(line);
    if (m) out.push({ offset: Number(m[1]), kind: m[2]!, name: m[3] ?? "", details: [] });
    else if (out.length > 0 && line.trim() !== "" && !/^\s*Mod \d+ \|/.test(line))
      out.at(-1)!.details.push(line.trim());
  }
  return out;
}

const MACHINES: Record<string, string> = {
  Amd64: "x64",
  Arm64: "arm64",
  x86: "x86",
  I386: "x86",
  ArmNT: "arm",
};

export function pdbutil(file: string): PdbOracle {
  const dump = sections(run(["dump", "-summary", "-modules", "-publics", "-globals", "-symbols", file]));
  const summary = dump.get("Summary") ?? [];
  const value = (key: string) =>
    summary
      .find((l) => l.trim().startsWith(`${key}:`))
      ?.split(": ")[1]
      ?.trim();
  const yaml = run(["pdb2yaml", "-dbi-stream", file]);
  const dbiAge = /^DbiStream:[\s\S]*?^ {2}Age:\s+(\d+)/m.exec(yaml)?.[1];
  const machine = /^ {2}MachineType:\s+(\S+)/m.exec(yaml)?.[1] ?? "?";
  return {
    guid: (value("GUID") ?? "").replace(/[{}]/g, "").toLowerCase(),
    age: Number(value("Age")),
    features: Number(value("Features")),
    dbiAge: Number(dbiAge),
    machine: MACHINES[machine] ?? machine,
    modules: (dump.get("Modules") ?? []).flatMap((l) => {
      const m = /^\s*Mod \d+ \| `(.*)`:/.exec(l);
      return m ? [m[1]!] : [];
    }),
    publics: records(dump.get("Public Symbols")),
    globals: records(dump.get("Global Symbols")),
    symbols: records(dump.get("Symbols")),
  };
}

export interface OracleType {
  index: number;
  kind: string;
  name: string;
  /** For forward references: the definition llvm-pdbutil resolves to (itself when unresolved). */
  forwardTo?: number;
  fieldList?: number;
  /** LF_MEMBER leaves of an LF_FIELDLIST, in order. */
  members: { name: string; typeIndex: number; offset: number }[];
}

/** `llvm-pdbutil dump -types`: every TPI record with the details the type tests compare. */
export function pdbutilTypes(file: string): Map<number, OracleType> {
  const out = new Map<number, OracleType>();
  let cur: OracleType | undefined;
  for (const line of run(["dump", "-types", file]).split("\n")) {
    const head = /^\s*0x([0-9A-F]+) \| (LF_[A-Z0-9_]+) \[size = \d+\](?: `(.*)`)?/.exec(line);
    if (head) {
      cur = { index: Number.parseInt(head[1]!, 16), kind: head[2]!, name: head[3] ?? "", members: [] };
      out.set(cur.index, cur);
      continue;
    }
    if (!cur) continue;
    const fwd = /forward ref \((->|<-|=) 0x([0-9A-F]+)\)/.exec(line);
    if (fwd) cur.forwardTo = Number.parseInt(fwd[2]!, 16);
    const fl = /field list: 0x([0-9A-F]+)/.exec(line);
    if (fl) cur.fieldList = Number.parseInt(fl[1]!, 16);
    const m = /- LF_MEMBER \[name = `(.*)`, Type = 0x([0-9A-F]+).*, offset = (\d+), attrs/.exec(line);
    if (m) cur.members.push({ name: m[1]!, typeIndex: Number.parseInt(m[2]!, 16), offset: Number(m[3]) });
  }
  return out;
}
