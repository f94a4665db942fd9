import type { Command } from "commander";

/** Every CLI command registers itself here; one module per command under src/cli/commands/. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [];
