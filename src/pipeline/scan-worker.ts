// Worker thread of scanPathsParallel: parses files with the registered readers, posts plain results.
import { parentPort } from "node:worker_threads";
import { readers } from "../catalog/readers/index.js";
import { prepareFile } from "./scan.js";

interface Task {
  id: number;
  path: string;
  knownSha256?: string;
  scanner?: string;
  force?: boolean;
  maxFileSize?: number;
}

parentPort?.on("message", (t: Task) => {
  const prepared = prepareFile(t.path, t.knownSha256, {
    readers,
    force: t.force,
    scanner: t.scanner,
    maxFileSize: t.maxFileSize,
  });
  parentPort?.postMessage({ id: t.id, prepared });
});
