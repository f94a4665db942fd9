/**
 * The Windows installation a file sits in, which is the build it links in. The files of one System32
 * link as one build even when their own version resource names another product or an older build
 * (msvcr100.dll 10.0.40219, components unchanged since 6.3.9600) or has none: on the Windows 10 1607
 * System32, 294 of 2,514 images have no Windows version of their own and 72 another one. The anchor is
 * ntdll.dll or ntoskrnl.exe in the file's folder or its parent (System32\drivers). A build in the
 * file's own name (the corpus convention `name_10.0.19041.508.dll`) wins: such folders mix builds.
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { buildFromBinaryName, windowsBuild } from "../catalog/readers/pe.js";
import { parsePe } from "../formats/pe/index.js";

const ANCHORS = new Set(["ntdll.dll", "ntoskrnl.exe"]);
const anchorOfDir = new Map<string, string | undefined>();

function anchorBuild(dir: string): string | undefined {
  if (anchorOfDir.has(dir)) return anchorOfDir.get(dir);
  let build: string | undefined;
  try {
    const anchor = readdirSync(dir).find((n) => ANCHORS.has(n.toLowerCase()));
    if (anchor) {
      const path = join(dir, anchor);
      build = windowsBuild(parsePe(new Uint8Array(readFileSync(path))), path);
    }
  } catch {
    build = undefined; // unreadable folder or anchor: the file keeps its own build
  }
  anchorOfDir.set(dir, build);
  return build;
}

/** The build `path` links in: its name's build, else its installation's, else its own (`own`). */
export function installationBuild(path: string, own: string | undefined): string | undefined {
  if (buildFromBinaryName(basename(path))) return own;
  const dir = dirname(path);
  return anchorBuild(dir) ?? anchorBuild(dirname(dir)) ?? own;
}
