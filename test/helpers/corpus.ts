import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (tests run from dist/test/..., sources live in test/...). */
export const repoRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
})();

/** The shared real-data corpus beside the repository (../shared/corpus). Tests require it. */
export const corpusRoot = process.env.ETW_ATLAS_CORPUS ?? resolve(repoRoot, "..", "shared", "corpus");

export function corpus(rel: string): string {
  const p = join(corpusRoot, rel);
  if (!existsSync(p))
    throw new Error(`corpus file missing: ${p} (tests need ../shared/corpus beside the repo)`);
  return p;
}

/** Fixtures committed in the repository. */
export function fixture(rel: string): string {
  return join(repoRoot, "fixtures", rel);
}
