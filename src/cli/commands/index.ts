import type { Command } from "commander";

/** Every CLI command registers itself here; one module per command under src/cli/commands/. */
export type RegisterCommand = (program: Command) => void;

/**
 * The commands by name, each loaded only when asked for: a one-off `events` query does not pay
 * for the scanner, the analysis and the web server's modules.
 */
export const commandModules: Record<string, () => Promise<{ register: RegisterCommand }>> = {
  scan: () => import("./scan.js"),
  export: () => import("./export.js"),
  events: () => import("./events.js"),
  diff: () => import("./diff.js"),
  pdb: () => import("./pdb.js"),
  pe: () => import("./pe.js"),
  analyze: () => import("./analyze.js"),
  reach: () => import("./reach.js"),
  symbols: () => import("./symbols.js"),
  wpp: () => import("./wpp.js"),
  serve: () => import("./serve.js"),
  start: () => import("./start.js"),
};

/** The register functions of the named commands, or of all (help, an unknown name). */
export async function loadCommands(name?: string): Promise<RegisterCommand[]> {
  const load = name !== undefined ? commandModules[name] : undefined;
  const loaders = load ? [load] : Object.values(commandModules);
  return (await Promise.all(loaders.map((l) => l()))).map((m) => m.register);
}
