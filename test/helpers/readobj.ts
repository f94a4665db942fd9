/**
 * Runs Debian's llvm-readobj-14 (an independent PE reader) and parses the parts of its text
 * output the PE tests compare against: sections, imports, delay imports, exports, debug entries.
 */
import { spawnSync } from "node:child_process";

export interface ReadobjRun {
  stdout: string;
  stderr: string;
  ok: boolean;
}

export function readobj(file: string, ...flags: string[]): ReadobjRun {
  const r = spawnSync("llvm-readobj-14", [...flags, file], { encoding: "utf8", maxBuffer: 256 << 20 });
  if (r.error) throw new Error(`cannot run llvm-readobj-14 (install Debian llvm-14): ${r.error.message}`);
  return { stdout: r.stdout, stderr: r.stderr, ok: r.status === 0 };
}

/** Field value of a "Key: value" line. */
function field(line: string, key: string): string | undefined {
  const t = line.trim();
  return t.startsWith(`${key}:`) ? t.slice(key.length + 1).trim() : undefined;
}
const num = (s: string): number => (s.startsWith("0x") ? Number.parseInt(s, 16) : Number.parseInt(s, 10));

export interface OracleSection {
  name: string;
  virtualSize: number;
  virtualAddress: number;
  rawSize: number;
  rawOffset: number;
}

export function parseSections(text: string): OracleSection[] {
  const out: OracleSection[] = [];
  let cur: Partial<OracleSection> | undefined;
  for (const line of text.split("\n")) {
    if (line.trim() === "Section {") cur = {};
    if (!cur) continue;
    let v: string | undefined;
    // "Name: .text (2E 74 ...)": the resolved name precedes the raw bytes in parentheses.
    if ((v = field(line, "Name")) !== undefined) cur.name = v.replace(/\s*\([0-9A-F ]*\)$/, "");
    else if ((v = field(line, "VirtualSize")) !== undefined) cur.virtualSize = num(v);
    else if ((v = field(line, "VirtualAddress")) !== undefined) cur.virtualAddress = num(v);
    else if ((v = field(line, "RawDataSize")) !== undefined) cur.rawSize = num(v);
    else if ((v = field(line, "PointerToRawData")) !== undefined) {
      cur.rawOffset = num(v);
      out.push(cur as OracleSection);
      cur = undefined;
    }
  }
  return out;
}

/** "Symbol: Name (hint)" for by-name imports, "Symbol:  (ordinal)" for by-ordinal ones. */
export interface OracleImportSymbol {
  name: string;
  /** Hint for by-name imports, ordinal for by-ordinal ones. */
  number: number;
}

export interface OracleImport {
  dll: string;
  iatRva: number;
  delay: boolean;
  symbols: OracleImportSymbol[];
}

export function parseImports(text: string): OracleImport[] {
  const out: OracleImport[] = [];
  let cur: OracleImport | undefined;
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (line.startsWith("Import {") || line.startsWith("DelayImport {")) {
      cur = { dll: "", iatRva: -1, delay: line.startsWith("Delay"), symbols: [] };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    let v: string | undefined;
    if (line.startsWith("  Name:")) cur.dll = t.slice(5).trim();
    else if ((v = field(line, "ImportAddressTableRVA") ?? field(line, "ImportAddressTable")) !== undefined)
      cur.iatRva = num(v);
    else if ((v = field(line, "Symbol")) !== undefined) {
      const m = /^(.*)\((\d+)\)$/.exec(v);
      if (!m) throw new Error(`unexpected llvm-readobj symbol line: ${line}`);
      cur.symbols.push({ name: m[1]!.trim(), number: Number(m[2]) });
    }
  }
  return out;
}

export interface OracleExport {
  ordinal: number;
  name: string;
  rva: number;
}

export function parseExports(text: string): OracleExport[] {
  const out: OracleExport[] = [];
  let cur: Partial<OracleExport> | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("Export {")) cur = {};
    if (!cur) continue;
    let v: string | undefined;
    if ((v = field(line, "Ordinal")) !== undefined) cur.ordinal = num(v);
    else if ((v = field(line, "Name")) !== undefined) cur.name = v;
    else if ((v = field(line, "RVA")) !== undefined) {
      cur.rva = num(v);
      out.push(cur as OracleExport);
      cur = undefined;
    }
  }
  return out;
}

export interface OracleCodeView {
  guidBytes: number[];
  age: number;
  path: string;
}

/** The PDBInfo blocks of --coff-debug-directory (RSDS entries). */
export function parseCodeView(text: string): OracleCodeView[] {
  const out: OracleCodeView[] = [];
  let cur: Partial<OracleCodeView> | undefined;
  for (const line of text.split("\n")) {
    if (line.trim() === "PDBInfo {") cur = {};
    if (!cur) continue;
    let v: string | undefined;
    if ((v = field(line, "PDBGUID")) !== undefined)
      cur.guidBytes = v
        .replace(/[()]/g, "")
        .trim()
        .split(/\s+/)
        .map((b) => Number.parseInt(b, 16));
    else if ((v = field(line, "PDBAge")) !== undefined) cur.age = num(v);
    else if ((v = field(line, "PDBFileName")) !== undefined) {
      cur.path = v;
      out.push(cur as OracleCodeView);
      cur = undefined;
    }
  }
  return out;
}

export interface OracleReloc {
  type: string;
  rva: number;
}

export function parseBaseRelocs(text: string): OracleReloc[] {
  const out: OracleReloc[] = [];
  let type: string | undefined;
  for (const line of text.split("\n")) {
    let v: string | undefined;
    if ((v = field(line, "Type")) !== undefined) type = v;
    else if ((v = field(line, "Address")) !== undefined && type !== undefined) {
      out.push({ type, rva: num(v) });
      type = undefined;
    }
  }
  return out;
}

export interface OracleLoadConfig {
  /** "Key: value" fields of the LoadConfig block, values as printed. */
  fields: Map<string, string>;
  /** GuardFidTable entries: VA and flags (0 when not printed). */
  guardFids: { va: bigint; flags: number }[];
}

export function parseLoadConfig(text: string): OracleLoadConfig | undefined {
  const fields = new Map<string, string>();
  const guardFids: { va: bigint; flags: number }[] = [];
  let block = "";
  for (const line of text.split("\n")) {
    if (/^\w+ \[/.test(line)) {
      block = line.split(" ")[0]!;
      continue;
    }
    if (line === "]") {
      block = "";
      continue;
    }
    if (block === "LoadConfig") {
      const m = /^\s+(\w+): (.*)$/.exec(line);
      if (m) fields.set(m[1]!, m[2]!);
    } else if (block === "GuardFidTable") {
      const m = /^\s+(0x[0-9A-Fa-f]+)(?: flags ([0-9A-Fa-f]+))?/.exec(line);
      if (m) guardFids.push({ va: BigInt(m[1]!), flags: m[2] ? Number.parseInt(m[2], 16) : 0 });
    }
  }
  return fields.size > 0 ? { fields, guardFids } : undefined;
}

export interface OracleResource {
  type: number | string;
  name: number | string;
  language: number;
  rva: number;
  size: number;
  codePage: number;
}

/** Leaves of --coff-resources: "Type: X [", "Name: (ID n) [", "Language: (ID n) [", then the data entry. */
export function parseResources(text: string): OracleResource[] {
  const out: OracleResource[] = [];
  const id = (v: string): number | string => {
    const s = v.replace(/ \[$/, "");
    const m = /\(ID (\d+)\)$/.exec(s);
    return m ? Number(m[1]) : s;
  };
  let type: number | string = "";
  let name: number | string = "";
  let language = 0;
  let cur: Partial<OracleResource> | undefined;
  for (const line of text.split("\n")) {
    let v: string | undefined;
    if ((v = field(line, "Type")) !== undefined) type = id(v);
    else if ((v = field(line, "Name")) !== undefined) name = id(v);
    else if ((v = field(line, "Language")) !== undefined) language = id(v) as number;
    else if ((v = field(line, "DataRVA")) !== undefined) cur = { type, name, language, rva: num(v) };
    else if (cur && (v = field(line, "DataSize")) !== undefined) cur.size = num(v);
    else if (cur && (v = field(line, "Codepage")) !== undefined) {
      cur.codePage = num(v);
      out.push(cur as OracleResource);
      cur = undefined;
    }
  }
  return out;
}

/** "Key: 0x..." fields of the --coff-tls-directory block (empty map when the image has none). */
export function parseTlsDirectory(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const m of text.matchAll(/^\s+(\w+): (0x[0-9A-Fa-f]+)$/gm)) fields.set(m[1]!, m[2]!);
  return fields;
}
