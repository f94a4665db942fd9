export * from "./iterator.js";
export * from "./kinds.js";
export * from "./records.js";
