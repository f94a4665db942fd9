import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Command } from "commander";
import { wppCatalog } from "../../catalog/readers/wpp-events.js";
import { isMsf7, parsePdb } from "../../formats/pdb/index.js";
import { looksLikePe } from "../../formats/pe/image.js";
import {
  groupByMessageGuid,
  looksLikeTmfText,
  parseTmfText,
  type TmcControl,
  type TmfMessage,
  wppFromPdb,
  writeTmfText,
} from "../../formats/wpp/index.js";
import { readInputFile } from "../../pipeline/files.js";
import { describeError } from "../../util/errors.js";
import { exitQuietlyOnClosedPipe } from "../pipe.js";
import { addSymbolOptions, pdbForImage, type SymbolCliOptions } from "./symbols.js";

interface WppCliOptions extends SymbolCliOptions {
  json?: boolean;
  tmf?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command("wpp")
    .description(
      "WPP trace message formats (TMF) from a PDB's annotations, a PE's PDB (found like `symbols`), " +
        "or .tmf text; --tmf writes tracepdb-style <message GUID>.tmf files",
    )
    .argument("<file>", "PDB, PE image or .tmf file")
    .option("--json", "print catalog rows (kind wpp) as JSON")
    .option("--tmf <dir>", "write one <message GUID>.tmf per message GUID into dir")
    .option("-v, --verbose", "print every symbol location tried (stderr)");
  addSymbolOptions(cmd).action(async (file: string, opts: WppCliOptions) => {
    let messages: TmfMessage[];
    let controls: TmcControl[] = [];
    let notes: string[] = [];
    let pdbName = basename(file);
    let source: "wpp-pdb" | "wpp-tmf" = "wpp-pdb";
    try {
      const bytes = readInputFile(file);
      let pdbBytes: Uint8Array | undefined;
      if (isMsf7(bytes)) pdbBytes = bytes;
      else if (looksLikePe(bytes)) {
        const got = await pdbForImage(file, opts);
        if (!got) return;
        pdbBytes = got.bytes;
        pdbName = basename(got.path);
      }
      if (pdbBytes) {
        const meta = wppFromPdb(parsePdb(pdbBytes));
        ({ messages, controls, notes } = meta);
      } else {
        const text = new TextDecoder().decode(bytes);
        if (!looksLikeTmfText(text)) throw new Error("not a PDB, PE image or .tmf file");
        messages = parseTmfText(text);
        source = "wpp-tmf";
      }
    } catch (err) {
      process.stderr.write(`${describeError(file, err)}\n`);
      process.exitCode = 1;
      return;
    }
    for (const n of notes) process.stderr.write(`${file}: note: ${n}\n`);
    exitQuietlyOnClosedPipe();
    const out = (line: string) => process.stdout.write(`${line}\n`);
    if (opts.tmf) {
      mkdirSync(opts.tmf, { recursive: true });
      for (const [guid, group] of groupByMessageGuid(messages))
        writeFileSync(join(opts.tmf, `${guid}.tmf`), writeTmfText(group, { pdbName }));
      process.stderr.write(`wrote ${groupByMessageGuid(messages).size} .tmf file(s) to ${opts.tmf}\n`);
    }
    if (opts.json) {
      out(JSON.stringify(wppCatalog(messages, controls, { file, source }), null, 2));
      return;
    }
    if (opts.tmf) return;
    for (const c of controls) out(`control ${c.guid} ${c.name} flags: ${c.flagNames.join(" ")}`);
    for (const m of messages)
      out(
        `${m.messageGuid}#${m.messageNumber}\t${m.level ?? "-"}\t${m.flags ?? "-"}\t${m.function ?? "-"}\t"${m.format}"`,
      );
  });
}
