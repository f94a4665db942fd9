import { readdirSync } from "node:fs";
import { join } from "node:path";
import { corpus, fixture } from "./corpus.js";

/** Every PE in the shared corpus: pe/kernel, pe/user and the images of pdb-pairs. */
export function corpusPeFiles(): string[] {
  const out: string[] = [];
  for (const dir of ["pe/kernel", "pe/user"])
    for (const f of readdirSync(corpus(dir)).sort()) out.push(join(corpus(dir), f));
  for (const f of readdirSync(corpus("pdb-pairs")).sort())
    if (/\.(sys|dll|node|exe)$/i.test(f)) out.push(join(corpus("pdb-pairs"), f));
  return out;
}

/** PE fixtures committed in the repository (built by fixtures-src scripts with clang/lld/mingw). */
export function fixturePeFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(sys|dll|exe|node)$/i.test(e.name)) out.push(p);
    }
  };
  walk(fixture(""));
  return out.sort();
}
