// Worker thread of scanPathsParallel: one file at a time (catalog records and, for x64 images,
// code sites), results posted back as plain messages. Its heap is bounded by resourceLimits.
import { parentPort } from "node:worker_threads";
import { readers } from "../catalog/readers/index.js";
import { type FileTask, processFile } from "./process-file.js";

parentPort?.on("message", (task: FileTask) => {
  void processFile(task, readers, (m) => parentPort?.postMessage(m));
});
