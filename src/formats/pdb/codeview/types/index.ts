export * from "./kinds.js";
export * from "./table.js";
