#!/usr/bin/env node
import { main } from "./cli/main.js";

main(process.argv).catch((err: unknown) => {
  console.error(`etw-atlas: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
