/**
 * PDB (MSF 7.00) reader — public API. Layers: `msf/` (container), `codeview/` (symbol and type
 * records), `pdb/` (meaning of the info, DBI, publics, globals and module streams).
 *
 *   const pdb = parsePdb(bytes);
 *   pdb.info.guid, pdb.info.age, pdb.dbi.age, pdb.dbi.machine, pdb.dbi.modules
 *   pdb.publics()      → [{name, rva, segment, offset, isFunction}]
 *   pdb.globals()      → decoded global symbol records (GSI order)
 *   pdb.procedures()   → [{name, rva, size, module}]   (module symbol streams)
 *   pdb.annotations()  → [{rva, strings}]              (S_ANNOTATION, e.g. WPP TMF)
 *   pdb.globalData()   → [{name, rva, typeName}]       (S_GDATA32/S_LDATA32 with TPI type names)
 *   pdb.sectionHeaders, pdb.rva(segment, offset)
 */

export * from "./codeview/symbols/index.js";
export { isMsf7, MsfFile } from "./msf/index.js";
export type { DbiStream, ModuleInfo, SectionContribution, SectionMapEntry } from "./pdb/dbi.js";
export { DebugStream, machineName } from "./pdb/dbi.js";
export type { PdbAnnotation, PdbGlobalData, PdbProcedure, PdbPublic } from "./pdb/file.js";
export { PdbFile, parsePdb } from "./pdb/file.js";
export type { PdbInfo } from "./pdb/info.js";
export { PdbFeature, StreamIndex } from "./pdb/info.js";
export type { PdbSectionHeader } from "./pdb/sections.js";
export { segmentOffsetToRva } from "./pdb/sections.js";
