import { readFileSync } from "node:fs";
import { Command } from "commander";
import { loadCommands } from "./commands/index.js";
import { exitQuietlyOnClosedPipe } from "./pipe.js";

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
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
