export * from "./exports.js";
export * from "./headers.js";
export * from "./image.js";
export * from "./imports.js";
export * from "./resources.js";
