import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { loadCommands } from "./commands/index.js";
import { exitQuietlyOnClosedPipe } from "./pipe.js";

/** The version in the nearest package.json above this module (dist/src/cli, or the bundle in dist/bin). */
function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file)) return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
    if (dirname(dir) === dir) return "unknown";
  }
}

/** The program with the named command (first non-option argument), or all commands. */
export async function buildProgram(argv: string[] = []): Promise<Command> {
  const program = new Command();
  program
    .name("etw-atlas")
    .description(
      "Offline catalog of Windows ETW telemetry (manifests, WEVT_TEMPLATE, MOF, TraceLogging, WPP)\n" +
        "and static analysis of which API writes which event.",
    )
    .version(packageVersion())
    .showHelpAfterError();
  const args = argv.slice(2);
  const name = args.find((a) => !a.startsWith("-"));
  const versionOnly = name === undefined && args.some((a) => a === "-V" || a === "--version");
  if (!versionOnly) for (const register of await loadCommands(name)) register(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  exitQuietlyOnClosedPipe();
  await (await buildProgram(argv)).parseAsync(argv);
}
