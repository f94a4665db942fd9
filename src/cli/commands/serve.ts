import type { Command } from "commander";
import { startServer } from "../../web/server.js";
import { DEFAULT_DB } from "../defaults.js";

interface ServeCliOptions {
  db: string;
  port: string;
  diffAgainst?: string;
  log?: boolean;
}

export function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new Error(`--port must be 0..65535, not ${text}`);
  return port;
}

export function register(program: Command): void {
  program
    .command("serve")
    .description("Browse a catalog in a local read-only web UI (http://127.0.0.1 only)")
    .option("--db <file>", "catalog file", DEFAULT_DB)
    .option("--port <n>", "TCP port on 127.0.0.1 (0 = any free port)", "8377")
    .option("--diff-against <old.db>", "older catalog: enables the Diff view (old → --db)")
    .option("--log", "log each request with its server time on stderr")
    .action(async (opts: ServeCliOptions) => {
      const server = await startServer({
        dbPath: opts.db,
        diffAgainst: opts.diffAgainst,
        port: parsePort(opts.port),
        onRequest: opts.log
          ? (method, url, status, ms) =>
              process.stderr.write(`${method} ${url} ${status} ${ms.toFixed(1)} ms\n`)
          : undefined,
      });
      process.stdout.write(`etw-atlas explorer: ${server.url}  (catalog ${opts.db}; Ctrl+C to stop)\n`);
      await untilInterrupted();
      await server.close();
    });
}

/** Resolves on SIGINT/SIGTERM so the server can close the catalog cleanly. */
export function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
