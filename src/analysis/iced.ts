/**
 * iced-x86, loaded with `require`: importing the CommonJS package as an ES module makes Node scan
 * its 0.9 MB of JavaScript for export names first (about 0.12 s of CPU at every start).
 */
import { createRequire } from "node:module";

const iced: typeof import("iced-x86") = createRequire(import.meta.url)("iced-x86");
export default iced;
