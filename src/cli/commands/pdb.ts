import type { Command } from "commander";
import { type PdbFile, parsePdb } from "../../formats/pdb/index.js";
import { parsePe } from "../../formats/pe/image.js";
import { readInputFile } from "../../pipeline/files.js";
import { matchPdb, type PdbMatchResult } from "../../symbols/match.js";
import { describeError } from "../../util/errors.js";

interface PdbCliOptions {
  json?: boolean;
  publics?: boolean;
  procedures?: boolean;
  data?: boolean;
  annotations?: boolean;
  image?: string;
}

const rvaText = (rva: number | undefined) =>
  rva === undefined ? "-" : `0x${rva.toString(16).padStart(8, "0")}`;

/** The one-object summary `pdb --json` prints. */
export function pdbSummary(pdb: PdbFile, match?: PdbMatchResult) {
  return {
    guid: pdb.info.guid,
    age: pdb.info.age,
    dbiAge: pdb.dbi.age,
    signature: pdb.info.signature,
    machine: pdb.dbi.machine,
    modules: pdb.dbi.modules.length,
    publics: pdb.publics().length,
    globals: pdb.globals().length,
    procedures: pdb.procedures().length,
    annotations: pdb.annotations().length,
    sections: pdb.sectionHeaders.map((s) => s.name),
    namedStreams: pdb.info.namedStreams,
    strippedPrivate: (pdb.dbi.flags & 2) !== 0,
    ...(match ? { match } : {}),
    ...(pdb.warnings.length > 0 ? { warnings: pdb.warnings } : {}),
  };
}

export function register(program: Command): void {
  program
    .command("pdb")
    .description("Read a PDB (MSF 7.00): identity, modules, public/global symbols, annotations")
    .argument("<file.pdb>", "PDB file")
    .option("--json", "print a JSON summary")
    .option("--publics", "list public symbols as rva<TAB>name")
    .option("--procedures", "list procedures as rva<TAB>size<TAB>name<TAB>module")
    .option("--data", "list global/static data as rva<TAB>type<TAB>name")
    .option("--annotations", "list S_ANNOTATION records as rva<TAB>strings (tab-separated)")
    .option("--image <pe>", "also check that this PE image matches the PDB (RSDS GUID and DBI age)")
    .action((file: string, opts: PdbCliOptions) => {
      let pdb: PdbFile;
      let match: PdbMatchResult | undefined;
      let reading = file;
      try {
        pdb = parsePdb(readInputFile(file));
        if (opts.image) {
          reading = opts.image;
          match = matchPdb(parsePe(readInputFile(opts.image)), pdb);
        }
      } catch (err) {
        process.stderr.write(`${describeError(reading, err)}\n`);
        process.exitCode = 1;
        return;
      }
      const out = (line: string) => process.stdout.write(`${line}\n`);
      if (opts.publics) for (const p of pdb.publics()) out(`${rvaText(p.rva)}\t${p.name}`);
      if (opts.procedures)
        for (const p of pdb.procedures()) out(`${rvaText(p.rva)}\t${p.size}\t${p.name}\t${p.module}`);
      if (opts.data) for (const d of pdb.globalData()) out(`${rvaText(d.rva)}\t${d.typeName}\t${d.name}`);
      if (opts.annotations)
        for (const a of pdb.annotations()) out(`${rvaText(a.rva)}\t${a.strings.join("\t")}`);
      const listed = opts.publics || opts.procedures || opts.data || opts.annotations;
      if (opts.json) out(JSON.stringify(pdbSummary(pdb, match), null, 2));
      else if (!listed) {
        const s = pdbSummary(pdb, match);
        out(`${file}`);
        out(`  GUID ${s.guid}  age ${s.age} (DBI age ${s.dbiAge})  machine ${s.machine}`);
        out(`  modules ${s.modules}  publics ${s.publics}  globals ${s.globals}  procedures ${s.procedures}`);
        out(`  annotations ${s.annotations}  sections ${s.sections.join(" ")}`);
        if (s.strippedPrivate) out("  private symbols stripped (public PDB)");
        if (match)
          out(`  image ${opts.image}: ${match.matches ? "matches" : `does NOT match: ${match.reason}`}`);
        for (const w of pdb.warnings) out(`  warning: ${w}`);
      }
      if (match && !match.matches) process.exitCode = 2;
    });
}
