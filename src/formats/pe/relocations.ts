/** Kept for existing importers; the base relocation reader lives in relocs.ts. */
export { readBaseRelocations } from "./relocs.js";
