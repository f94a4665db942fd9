import { readdirSync } from "node:fs";
import { join } from "node:path";
import { corpus } from "./corpus.js";

/** Every PE in the shared corpus: pe/kernel, pe/user and the images of pdb-pairs. */
export function corpusPeFiles(): string[] {
  const out: string[] = [];
  for (const dir of ["pe/kernel", "pe/user"])
    for (const f of readdirSync(corpus(dir)).sort()) out.push(join(corpus(dir), f));
  for (const f of readdirSync(corpus("pdb-pairs")).sort())
    if (/\.(sys|dll|node|exe)$/i.test(f)) out.push(join(corpus("pdb-pairs"), f));
  return out;
}
