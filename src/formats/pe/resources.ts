import { FormatError } from "../../util/errors.js";
import type { PeImage } from "./image.js";

/** Standard integer resource types we name. */
export const RESOURCE_TYPE_NAMES: Record<number, string> = {
  1: "RT_CURSOR",
  2: "RT_BITMAP",
  3: "RT_ICON",
  4: "RT_MENU",
  5: "RT_DIALOG",
  6: "RT_STRING",
  7: "RT_FONTDIR",
  8: "RT_FONT",
  9: "RT_ACCELERATOR",
  10: "RT_RCDATA",
  11: "RT_MESSAGETABLE",
  12: "RT_GROUP_CURSOR",
  14: "RT_GROUP_ICON",
  16: "RT_VERSION",
  17: "RT_DLGINCLUDE",
  19: "RT_PLUGPLAY",
  20: "RT_VXD",
  21: "RT_ANICURSOR",
  22: "RT_ANIICON",
  23: "RT_HTML",
  24: "RT_MANIFEST",
};
export const RT_MESSAGETABLE = 11;
export const RT_VERSION = 16;

/** A resource id is either an integer or a (case-preserved) string name. */
export type ResourceId = number | string;

export interface ResourceLeaf {
  type: ResourceId;
  name: ResourceId;
  language: number;
  rva: number;
  size: number;
  codePage: number;
}

const MAX_ENTRIES = 100000;

/** Reads the whole three-level (type / name / language) resource tree into a flat list of leaves. */
export function readResources(pe: PeImage): ResourceLeaf[] {
  const dir = pe.directory("resource");
  if (!dir) return [];
  const base = pe.offsetOf(dir.rva, "resource directory");
  const v = pe.view;
  const leaves: ResourceLeaf[] = [];
  const visited = new Set<number>();

  // Entries may share one name string; decode each once so sharing cannot multiply work.
  const names = new Map<number, string>();
  const readName = (nameField: number): ResourceId => {
    if ((nameField & 0x80000000) === 0) return nameField & 0xffff;
    const off = base + (nameField & 0x7fffffff);
    let name = names.get(off);
    if (name === undefined) names.set(off, (name = v.utf16(off + 2, v.u16(off))));
    return name;
  };

  const walk = (tableRel: number, depth: number, path: ResourceId[]): void => {
    const table = base + tableRel;
    if (visited.has(table)) throw new FormatError("pe", "resource directory loop", table);
    visited.add(table);
    const count = v.u16(table + 12) + v.u16(table + 14);
    if (count > MAX_ENTRIES || leaves.length > MAX_ENTRIES)
      throw new FormatError("pe", `implausible resource entry count ${count}`, table);
    for (let i = 0; i < count; i++) {
      const e = table + 16 + i * 8;
      const id = readName(v.u32(e));
      const target = v.u32(e + 4);
      const isDir = (target & 0x80000000) !== 0;
      if (depth < 2) {
        if (!isDir) continue; // malformed: data entry above language level; ignore rather than misread
        walk(target & 0x7fffffff, depth + 1, [...path, id]);
      } else {
        if (isDir) continue;
        const d = base + target;
        leaves.push({
          type: path[0]!,
          name: path[1]!,
          language: typeof id === "number" ? id : 0,
          rva: v.u32(d),
          size: v.u32(d + 4),
          codePage: v.u32(d + 8),
        });
      }
    }
  };
  walk(0, 0, []);
  return leaves;
}

export function resourceTypeName(type: ResourceId): string {
  return typeof type === "string" ? type : (RESOURCE_TYPE_NAMES[type] ?? String(type));
}

/** Leaves of a given type (integer id or case-insensitive string name). */
export function findResources(pe: PeImage, type: ResourceId, leaves = readResources(pe)): ResourceLeaf[] {
  return leaves.filter((l) =>
    typeof type === "number"
      ? l.type === type
      : typeof l.type === "string" && l.type.toUpperCase() === type.toUpperCase(),
  );
}

/** The bytes of a resource leaf. */
export function resourceData(pe: PeImage, leaf: ResourceLeaf): Uint8Array {
  return pe.bytesAt(leaf.rva, leaf.size, `resource ${resourceTypeName(leaf.type)}/${leaf.name}`);
}

/** Typed shortcuts for the resources the catalog reads. */
export const wevtTemplates = (pe: PeImage) =>
  findResources(pe, "WEVT_TEMPLATE").map((l) => resourceData(pe, l));
export const mofData = (pe: PeImage) => findResources(pe, "MOFDATA").map((l) => resourceData(pe, l));
export const messageTables = (pe: PeImage) =>
  findResources(pe, RT_MESSAGETABLE).map((l) => ({ leaf: l, data: resourceData(pe, l) }));
