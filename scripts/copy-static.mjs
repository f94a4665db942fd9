// Build step after tsc: the web UI's static files (plain HTML/CSS/JS) go next to the compiled server.
import { cpSync, existsSync } from "node:fs";

const from = "src/web/static";
const to = "dist/src/web/static";
if (!existsSync(from)) {
  console.error(`copy-static: ${from} is missing`);
  process.exit(1);
}
cpSync(from, to, { recursive: true });
