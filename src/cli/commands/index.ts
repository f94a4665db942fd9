import type { Command } from "commander";
import { register as analyzeCommand } from "./analyze.js";
import { register as diffCommand } from "./diff.js";
import { register as eventsCommand } from "./events.js";
import { register as exportCommand } from "./export.js";
import { register as pdbCommand } from "./pdb.js";
import { register as peCommand } from "./pe.js";
import { register as reachCommand } from "./reach.js";
import { register as scanCommand } from "./scan.js";
import { register as serveCommand } from "./serve.js";
import { register as startCommand } from "./start.js";
import { register as symbolsCommand } from "./symbols.js";
import { register as wppCommand } from "./wpp.js";

/** Every CLI command registers itself here; one module per command under src/cli/commands/. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  scanCommand,
  exportCommand,
  eventsCommand,
  diffCommand,
  pdbCommand,
  peCommand,
  analyzeCommand,
  reachCommand,
  symbolsCommand,
  wppCommand,
  serveCommand,
  startCommand,
];
