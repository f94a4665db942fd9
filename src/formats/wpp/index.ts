export * from "./pdb.js";
export * from "./tmf.js";
export * from "./tmf-write.js";
