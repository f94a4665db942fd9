export * from "./headers.js";
export * from "./image.js";
export * from "./resources.js";
