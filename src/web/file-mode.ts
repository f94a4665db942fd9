/**
 * Kernel or user mode of a scanned binary, as its PE header says (imports of ntoskrnl/HAL = a
 * driver or the kernel), for the explorer's badges. Read once per file and remembered; files that
 * are not PE images (manifests, MOF, TMF) or no longer exist have no mode.
 */
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { parsePe } from "../formats/pe/image.js";
import { imageMode, readImports } from "../formats/pe/imports.js";

export type FileMode = "kernel" | "user";

const modes = new Map<string, FileMode | undefined>();

function startsWithMz(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b.toString("latin1") === "MZ";
  } finally {
    closeSync(fd);
  }
}

export function fileMode(path: string): FileMode | undefined {
  if (modes.has(path)) return modes.get(path);
  let mode: FileMode | undefined;
  try {
    if (startsWithMz(path)) mode = imageMode(readImports(parsePe(readFileSync(path))), path);
  } catch {
    mode = undefined; // gone, unreadable or malformed: no badge rather than a wrong one
  }
  modes.set(path, mode);
  return mode;
}
