/**
 * Loads `analyze` proper (analyze-run.ts). The bundle (scripts/bundle-cli.mjs) replaces this module
 * by one that runs the analyze-run.cjs bundle with V8's code cache (../code-cache.ts).
 */
export async function loadAnalyzeRun(): Promise<typeof import("./analyze-run.js")> {
  return import("./analyze-run.js");
}
