// Worker process of scanPathsParallel: one file at a time (catalog records and, for x64 images,
// code sites), results sent back as plain messages. A process, not a thread: a V8 heap limit hit
// inside a worker thread can abort the whole process (nodejs/node#47224); here it ends only this one.

import { printable } from "../util/printable.js";
import { type FileTask, processFile, type TaskMessage } from "./process-file.js";
import { readers } from "./readers.js";

process.on("message", (task: FileTask) => {
  let prepared = false;
  const post = (m: TaskMessage): void => {
    if (m.type === "prepared") prepared = true;
    process.send?.(m);
  };
  // processFile turns bad input into results; anything else it throws still becomes this file's
  // failure with its message (not a dead worker reported as "exit code 1").
  processFile(task, readers, post).catch((err: unknown) => {
    const error = `${printable(task.path)}: ${err instanceof Error ? err.message : String(err)}`;
    post(
      prepared
        ? {
            id: task.id,
            type: "done",
            analysis: { outcome: { path: task.path, status: "failed", error }, sites: [] },
          }
        : { id: task.id, type: "done", prepared: { kind: "failed", error } },
    );
  });
});
// The scan that started us is gone (Ctrl-C, kill -9): stop too.
process.on("disconnect", () => process.exit(0));
