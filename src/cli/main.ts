import { readFileSync } from "node:fs";
import { Command } from "commander";
import { commands } from "./commands/index.js";
import { exitQuietlyOnClosedPipe } from "./pipe.js";

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("etw-atlas")
    .description(
      "Offline catalog of Windows ETW telemetry (manifests, WEVT_TEMPLATE, MOF, TraceLogging, WPP)\n" +
        "and static analysis of which API writes which event.",
    )
    .version(packageVersion())
    .showHelpAfterError();
  for (const register of commands) register(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  exitQuietlyOnClosedPipe();
  await buildProgram().parseAsync(argv);
}
