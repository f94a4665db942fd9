export * from "./binxml.js";
export * from "./crim.js";
export * from "./types.js";
