import { ByteView } from "../../../util/bytes.js";
import { FormatError } from "../../../util/errors.js";
import { iterateSymbols, type RawSymbol, symbolAt } from "../codeview/symbols/iterator.js";
import { SymbolKind as K } from "../codeview/symbols/kinds.js";
import {
  type AnnotationSym,
  type CodeViewSymbol,
  type DataSym,
  decodeSymbol,
  isData,
  isProc,
  type PublicSym,
  type RefSym,
} from "../codeview/symbols/records.js";
import { TypeTable } from "../codeview/types/table.js";
import { MsfFile } from "../msf/index.js";
import { type DbiStream, DebugStream, type ModuleInfo, parseDbiStream } from "./dbi.js";
import { parsePublicsHeader, readGsiHashRecords } from "./gsi.js";
import { type PdbInfo, parseInfoStream, StreamIndex } from "./info.js";
import { type PdbSectionHeader, parseSectionHeaders, segmentOffsetToRva } from "./sections.js";
import { parseTpiStream, type TpiHeader } from "./tpi.js";

export interface PdbPublic {
  name: string;
  /** undefined when the segment has no section header (e.g. absolute symbols, segment 0). */
  rva: number | undefined;
  segment: number;
  offset: number;
  isFunction: boolean;
  isCode: boolean;
}
export interface PdbProcedure {
  name: string;
  rva: number | undefined;
  size: number;
  /** Module (compiland) name. */
  module: string;
  moduleIndex: number;
  global: boolean;
}
export interface PdbAnnotation {
  rva: number | undefined;
  segment: number;
  offset: number;
  strings: string[];
  moduleIndex: number;
  /** Name of the procedure whose scope contains the annotation, if any. */
  procedure?: string;
}
export interface PdbGlobalData {
  name: string;
  rva: number | undefined;
  segment: number;
  offset: number;
  typeIndex: number;
  typeName: string;
  /** S_GDATA32 (true) or S_LDATA32 / file static (false). */
  global: boolean;
}

/** A symbol from a module stream with the procedure scope it sits in. */
export interface ModuleSymbol {
  offset: number;
  symbol: CodeViewSymbol;
  procedure?: string;
}

/**
 * A parsed PDB. The info and DBI streams (and section headers) are read on construction, so
 * a PDB that cannot be matched fails fast; symbol and type streams are read on first use.
 */
export class PdbFile {
  readonly msf: MsfFile;
  readonly info: PdbInfo;
  readonly dbi: DbiStream;
  readonly sectionHeaders: PdbSectionHeader[];
  /** Problems met while reading tolerant aggregates (a bad module stream is skipped, not fatal). */
  readonly warnings: string[] = [];
  private publicsCache?: PdbPublic[];
  private globalsCache?: CodeViewSymbol[];
  private tpiCache?: { header: TpiHeader; types: TypeTable };
  private tpiBroken?: string;

  constructor(bytes: Uint8Array) {
    this.msf = new MsfFile(bytes);
    this.info = parseInfoStream(this.msf.stream(StreamIndex.Info, "PDB info stream"));
    this.dbi = parseDbiStream(this.msf.stream(StreamIndex.Dbi, "DBI stream"));
    const sh = this.dbi.debugStreams[DebugStream.SectionHeaders];
    this.sectionHeaders =
      sh !== undefined && this.msf.has(sh)
        ? parseSectionHeaders(this.msf.stream(sh, "section headers stream"))
        : [];
  }

  /** seg:off → RVA via the section headers (undefined when there is no such section). */
  rva(segment: number, offset: number): number | undefined {
    return segmentOffsetToRva(this.sectionHeaders, segment, offset);
  }

  private contributionIndex?: { start: number; end: number; module: number }[];

  /**
   * The module (0-based DBI index) whose section contribution covers an RVA, from the DBI
   * section contribution substream; undefined when no contribution covers it.
   */
  moduleAtRva(rva: number): number | undefined {
    if (!this.contributionIndex) {
      this.contributionIndex = this.dbi.sectionContributions
        .flatMap((c) => {
          const start = this.rva(c.section, c.offset);
          return start === undefined || c.size <= 0 ? [] : [{ start, end: start + c.size, module: c.module }];
        })
        .sort((a, b) => a.start - b.start);
    }
    const list = this.contributionIndex;
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = list[mid]!;
      if (rva < c.start) hi = mid - 1;
      else if (rva >= c.end) lo = mid + 1;
      else return c.module;
    }
    return undefined;
  }

  /** The global symbol record stream (GSS) holding every public/global record. */
  symbolRecords(): Uint8Array {
    const s = this.dbi.symbolRecordStream;
    if (s === undefined || !this.msf.has(s)) return new Uint8Array(0);
    return this.msf.stream(s, "symbol record stream");
  }

  /** Raw records listed by a GSI hash table (offsets into the symbol record stream). */
  private hashedRecords(stream: number | undefined, headerSize: number, what: string): RawSymbol[] {
    if (stream === undefined || !this.msf.has(stream)) return [];
    const data = this.msf.stream(stream, what);
    if (headerSize > 0) {
      const h = parsePublicsHeader(data);
      if (h.nameTableSize > data.length - headerSize)
        throw new FormatError("pdb", `${what}: name table size ${h.nameTableSize} runs past the stream`);
    }
    const gss = this.symbolRecords();
    return readGsiHashRecords(data, headerSize, what).map((off) => {
      if (off >= gss.length)
        throw new FormatError("pdb", `${what}: record offset ${off} is past the symbol record stream`);
      return symbolAt(gss, off);
    });
  }

  /** S_PUB32 records listed by the publics stream (PSI), with RVAs. */
  publics(): PdbPublic[] {
    if (this.publicsCache) return this.publicsCache;
    const out: PdbPublic[] = [];
    for (const raw of this.publicRecords()) {
      if (raw.kind !== K.S_PUB32)
        throw new FormatError(
          "pdb",
          `publics stream points at a 0x${raw.kind.toString(16)} record, not S_PUB32`,
          raw.offset,
        );
      const p = decodeSymbol(raw) as PublicSym;
      out.push({
        name: p.name,
        rva: this.rva(p.segment, p.offset),
        segment: p.segment,
        offset: p.offset,
        isFunction: (p.flags & 2) !== 0,
        isCode: (p.flags & 1) !== 0,
      });
    }
    this.publicsCache = out;
    return out;
  }

  /** The raw records the globals stream (GSI) lists, with their offsets in the symbol record stream. */
  globalRecords(): RawSymbol[] {
    return this.hashedRecords(this.dbi.globalsStream, 0, "globals stream");
  }

  /** The raw S_PUB32 records the publics stream (PSI) lists. */
  publicRecords(): RawSymbol[] {
    return this.hashedRecords(this.dbi.publicsStream, 28, "publics stream");
  }

  /** Records listed by the globals stream (GSI): S_GDATA32, S_PROCREF, S_CONSTANT, S_UDT, S_ANNOTATIONREF, ... */
  globals(): CodeViewSymbol[] {
    if (!this.globalsCache) this.globalsCache = this.globalRecords().map(decodeSymbol);
    return this.globalsCache;
  }

  /** The TPI stream's type table (empty table when the PDB has no TPI). */
  types(): TypeTable {
    if (!this.tpiCache) this.tpiCache = parseTpiStream(this.msf.stream(StreamIndex.Tpi, "TPI stream"));
    return this.tpiCache.types;
  }

  /** Type name for a TPI index; a missing or corrupt TPI gives "<type 0x...>" (and a warning) instead of throwing. */
  typeName(typeIndex: number): string {
    // Without a usable TPI, an empty table still names primitive types.
    return (this.tpiUsable() ? this.types() : EMPTY_TYPES).typeName(typeIndex);
  }

  private tpiUsable(): boolean {
    if (this.tpiCache) return true;
    if (this.tpiBroken !== undefined) return false;
    if (!this.msf.has(StreamIndex.Tpi)) {
      this.tpiBroken = "no TPI stream";
      return false;
    }
    try {
      this.types();
      return true;
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      this.tpiBroken = e.message;
      this.warnings.push(`TPI stream unreadable, types left unnamed: ${e.message}`);
      return false;
    }
  }

  /** The raw symbol bytes of a module stream (after the 4-byte signature), or undefined if it has none. */
  moduleSymbolBytes(module: ModuleInfo): { bytes: Uint8Array; start: number; end: number } | undefined {
    if (module.symbolStream === undefined || !this.msf.has(module.symbolStream) || module.symbolBytes < 4)
      return undefined;
    const bytes = this.msf.stream(module.symbolStream, `module ${module.index} symbol stream`);
    if (module.symbolBytes > bytes.length)
      throw new FormatError(
        "pdb",
        `module ${module.index} claims ${module.symbolBytes} symbol bytes but its stream has ${bytes.length}`,
      );
    const sig = new ByteView(bytes, "pdb").u32(0);
    if (sig !== 4)
      throw new FormatError(
        "pdb",
        `module ${module.index} symbol stream signature is ${sig}, expected 4 (C13)`,
      );
    return { bytes, start: 4, end: module.symbolBytes };
  }

  /** Decoded symbols of one module stream, each tagged with the innermost enclosing procedure. */
  *moduleSymbols(module: ModuleInfo): Generator<ModuleSymbol> {
    const range = this.moduleSymbolBytes(module);
    if (!range) return;
    // Each open scope records the innermost procedure name (blocks/inlines inherit their parent's).
    const procs: (string | undefined)[] = [];
    for (const raw of iterateSymbols(range.bytes, range.start, range.end)) {
      const symbol = decodeSymbol(raw);
      const procedure = procs[procs.length - 1];
      yield { offset: raw.offset, symbol, procedure };
      if (isProc(symbol)) procs.push(symbol.name);
      else if (OPENS_SCOPE.has(raw.kind)) procs.push(procedure);
      else if ((raw.kind === K.S_END || raw.kind === K.S_PROC_ID_END) && procs.length > 0) procs.pop();
      if (procs.length > 4096)
        throw new FormatError("pdb", `module ${module.index}: scopes nest too deeply`, raw.offset);
    }
  }

  /**
   * Follows a global reference (S_PROCREF / S_LPROCREF / S_ANNOTATIONREF / S_DATAREF) to the
   * record it names in its module's symbol stream.
   */
  resolveReference(ref: RefSym): { module: ModuleInfo; symbol: CodeViewSymbol; offset: number } {
    const module = this.dbi.modules[ref.module - 1];
    if (!module)
      throw new FormatError(
        "pdb",
        `reference to module ${ref.module}, but the PDB has ${this.dbi.modules.length}`,
      );
    const range = this.moduleSymbolBytes(module);
    if (!range || ref.symOffset < range.start || ref.symOffset >= range.end)
      throw new FormatError(
        "pdb",
        `reference to offset ${ref.symOffset} outside module ${module.index}'s symbols`,
      );
    return { module, symbol: decodeSymbol(symbolAt(range.bytes, ref.symOffset)), offset: ref.symOffset };
  }

  /** Runs `fn` over every module's symbols; a corrupt module is recorded in `warnings` and skipped. */
  private eachModuleSymbol(fn: (m: ModuleInfo, s: ModuleSymbol) => void): void {
    for (const m of this.dbi.modules) {
      try {
        for (const s of this.moduleSymbols(m)) fn(m, s);
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        this.warnings.push(`module ${m.index} (${m.name}): ${e.message}`);
      }
    }
  }

  procedures(): PdbProcedure[] {
    const out: PdbProcedure[] = [];
    this.eachModuleSymbol((m, { symbol }) => {
      if (!isProc(symbol)) return;
      out.push({
        name: symbol.name,
        rva: this.rva(symbol.segment, symbol.offset),
        size: symbol.length,
        module: m.name,
        moduleIndex: m.index,
        global: symbol.kind === K.S_GPROC32 || symbol.kind === K.S_GPROC32_ID,
      });
    });
    return out;
  }

  /** S_ANNOTATION records from module streams (where `__annotation` / WPP TMF strings live). */
  annotations(): PdbAnnotation[] {
    const out: PdbAnnotation[] = [];
    this.eachModuleSymbol((m, { symbol, procedure }) => {
      if (symbol.kind !== K.S_ANNOTATION) return;
      const a = symbol as AnnotationSym;
      out.push({
        rva: this.rva(a.segment, a.offset),
        segment: a.segment,
        offset: a.offset,
        strings: a.strings,
        moduleIndex: m.index,
        ...(procedure !== undefined ? { procedure } : {}),
      });
    });
    return out;
  }

  /**
   * Global and static data symbols with their type names: the globals stream's S_GDATA32 /
   * S_LDATA32 plus module-level S_LDATA32 (file statics), de-duplicated by name and address.
   */
  globalData(): PdbGlobalData[] {
    const out: PdbGlobalData[] = [];
    const seen = new Set<string>();
    const add = (d: DataSym) => {
      if (d.kind !== K.S_GDATA32 && d.kind !== K.S_LDATA32) return;
      const key = `${d.name}\0${d.segment}:${d.offset}`;
      if (seen.has(key)) return;
      seen.add(key);
      out.push({
        name: d.name,
        rva: this.rva(d.segment, d.offset),
        segment: d.segment,
        offset: d.offset,
        typeIndex: d.typeIndex,
        typeName: this.typeName(d.typeIndex),
        global: d.kind === K.S_GDATA32,
      });
    };
    for (const g of this.globals()) if (isData(g)) add(g);
    this.eachModuleSymbol((_m, { symbol }) => {
      if (isData(symbol)) add(symbol);
    });
    return out;
  }
}

const EMPTY_TYPES = new TypeTable(new Uint8Array(0), 0x1000);

const OPENS_SCOPE: ReadonlySet<number> = new Set([
  K.S_BLOCK32,
  K.S_THUNK32,
  K.S_INLINESITE,
  K.S_SEPCODE,
  K.S_GMANPROC,
  K.S_LMANPROC,
]);

/** Parses a PDB (MSF 7.00) file. Throws FormatError for anything that is not a readable PDB. */
export function parsePdb(bytes: Uint8Array): PdbFile {
  return new PdbFile(bytes);
}
