// Worker process of scanPathsParallel: one file at a time (catalog records and, for x64 images,
// code sites), results sent back as plain messages. A process, not a thread: a V8 heap limit hit
// inside a worker thread can abort the whole process (nodejs/node#47224); here it ends only this one.

import { type FileTask, processFile } from "./process-file.js";
import { readers } from "./readers.js";

process.on("message", (task: FileTask) => {
  void processFile(task, readers, (m) => process.send?.(m));
});
// The scan that started us is gone (Ctrl-C, kill -9): stop too.
process.on("disconnect", () => process.exit(0));
