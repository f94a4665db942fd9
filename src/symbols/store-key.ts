import { parseGuid } from "../util/bytes.js";
import { FormatError } from "../util/errors.js";

/**
 * Symbol-store paths. A PDB is stored as `<name>/<GUID><AGE>/<name>` where GUID is the 16 bytes
 * printed as %08X%04X%04X followed by the last 8 bytes as %02X each (i.e. the GUID text without
 * dashes, upper case) and AGE is the age in upper-case hex without padding. Next to (instead of)
 * `<name>` a store may hold `<name minus last char>_` (a CAB-compressed copy) or `file.ptr`
 * (a text redirect: `PATH:<path>` or `MSG:<reason>`).
 */

/** Identity of a PDB: what the PE's CodeView RSDS record names. */
export interface PdbKey {
  /** PDB file name without directories, e.g. "ntkrnlmp.pdb". */
  name: string;
  /** GUID text (any case, with or without braces). */
  guid: string;
  age: number;
}

/** The last path component of a PDB path as written by a linker (Windows or POSIX separators). */
export function pdbBaseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] ?? path;
}

/** `<GUID><AGE>` directory name, e.g. "3844DBB920174967BE7AA4A2C20430FA2". */
export function storeIndex(guid: string, age: number): string {
  parseGuid(guid); // validates, throws a FormatError naming the bad text
  if (!Number.isInteger(age) || age < 0 || age > 0xffffffff)
    throw new FormatError("symbol-store", `bad PDB age ${age}`);
  const hex = guid
    .trim()
    .replace(/^\{|\}$/g, "")
    .replace(/-/g, "")
    .toUpperCase();
  return hex + age.toString(16).toUpperCase();
}

/** Name of the compressed variant: last character replaced by `_` ("foo.pdb" → "foo.pd_"). */
export function compressedName(name: string): string {
  return name.length > 0 ? name.slice(0, -1) + "_" : name;
}

export type StoreFileKind = "plain" | "compressed" | "pointer";

/** Relative store paths (with `/` separators) to try for a key, in SymSrv's order. */
export function storeCandidates(key: PdbKey, twoTier = false): Array<{ kind: StoreFileKind; path: string }> {
  const name = pdbBaseName(key.name);
  if (name === "" || name === "." || name === "..")
    throw new FormatError("symbol-store", `bad PDB name "${key.name}"`);
  const prefix = twoTier ? `${name.slice(0, 2)}/` : "";
  const dir = `${prefix}${name}/${storeIndex(key.guid, key.age)}`;
  return [
    { kind: "plain", path: `${dir}/${name}` },
    { kind: "compressed", path: `${dir}/${compressedName(name)}` },
    { kind: "pointer", path: `${dir}/file.ptr` },
  ];
}

/** What a `file.ptr` says: a path to the real file, or a message explaining its absence. */
export type FilePointer = { path: string } | { message: string };

export function parseFilePointer(text: string): FilePointer {
  const t = text.replace(/^\uFEFF/, "").trim();
  const m = /^(PATH|MSG):(.*)$/is.exec(t);
  if (!m) throw new FormatError("file.ptr", `expected "PATH:..." or "MSG:...", got "${t.slice(0, 60)}"`);
  const value = m[2]!.trim();
  return m[1]!.toUpperCase() === "PATH" ? { path: value } : { message: value };
}
