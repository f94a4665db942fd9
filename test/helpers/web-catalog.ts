// Builds small real catalogs for the web tests: Kernel-Process manifests (Windows 7 and 10 17134,
// from the corpus tarball), the FilterManager manifest and fltMgr.sys (scanned and analysed, so
// FilterManager events have code sites), csrsrv.dll of Windows 7 SP1 (analysed: code sites of a
// second build), and OpenConsole.exe (TraceLogging).
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { CatalogStore } from "../../src/catalog/store.js";
import { analyzeFileIntoStore } from "../../src/pipeline/analysis.js";
import { readers } from "../../src/pipeline/readers.js";
import { scanPaths } from "../../src/pipeline/scan.js";
import { unpackTarXz } from "../../src/util/tar-xz.js";
import { corpus } from "./corpus.js";

export const KERNEL_PROCESS_10 = "Manifests-Win10-17134/Microsoft-Windows-Kernel-Process.xml";
export const KERNEL_PROCESS_7 = "Manifests-Win7-7600/Microsoft-Windows-Kernel-Process.xml";

/** Extracts the two Kernel-Process manifests from the corpus tarball into `dir`. */
export function extractKernelProcess(dir: string): { win10: string; win7: string } {
  unpackTarXz(corpus("manifests/tdh-reconstructed-all.tar.xz"), dir, [KERNEL_PROCESS_10, KERNEL_PROCESS_7]);
  return { win10: join(dir, KERNEL_PROCESS_10), win7: join(dir, KERNEL_PROCESS_7) };
}

export interface TestCatalogs {
  /** New catalog: Win10 Kernel-Process, FilterManager manifest, fltMgr.sys (+ sites), OpenConsole.exe, wmicore.mof. */
  dbPath: string;
  /** Old catalog for the diff: Win7 Kernel-Process only. */
  oldDbPath: string;
  fltMgr: string;
  /** csrsrv.dll 6.1.7601 (code sites of build 6.1.7601; fltMgr.sys's are 10.0.19041). */
  csrsrv: string;
}

/**
 * `corpusManifests`: also every manifest of the corpus tarball (2,417 manifests of five Windows
 * builds, ~138,000 events) — the corpus catalog the browser test drives.
 */
export function buildTestCatalogs(dir: string, opts: { corpusManifests?: boolean } = {}): TestCatalogs {
  const kp = extractKernelProcess(join(dir, "manifests"));
  const inputs = join(dir, "inputs");
  mkdirSync(inputs, { recursive: true });
  const fltMgr = corpus("pe/kernel/fltMgr.sys");
  const csrsrv = corpus("pe/user/csrsrv_6.1.7601.17514.dll");
  // Kernel-Process Win10 under one file name in the new catalog (so the diff pairs it with Win7's).
  copyFileSync(kp.win10, join(inputs, "Microsoft-Windows-Kernel-Process.xml"));
  const dbPath = join(dir, "new.db");
  const store = CatalogStore.open(dbPath);
  try {
    scanPaths(
      [
        join(inputs, "Microsoft-Windows-Kernel-Process.xml"),
        corpus("manifests/tdh-reconstructed/Win10-17134_Microsoft-Windows-FilterManager.xml"),
        fltMgr,
        csrsrv,
        corpus("pe/user/OpenConsole.exe"),
        corpus("mof/wmicore.mof"),
        ...(opts.corpusManifests ? [unpackAllManifests(join(dir, "all-manifests"))] : []),
      ],
      { readers, store },
    );
    for (const image of [fltMgr, csrsrv]) {
      const outcome = analyzeFileIntoStore(store, image);
      if (outcome.status !== "analysed") throw new Error(`${image} analysis: ${JSON.stringify(outcome)}`);
    }
  } finally {
    store.close();
  }
  const oldDbPath = join(dir, "old.db");
  const old = CatalogStore.open(oldDbPath);
  try {
    scanPaths([kp.win7], { readers, store: old });
  } finally {
    old.close();
  }
  return { dbPath, oldDbPath, fltMgr, csrsrv };
}

function unpackAllManifests(dir: string): string {
  mkdirSync(dir, { recursive: true });
  unpackTarXz(corpus("manifests/tdh-reconstructed-all.tar.xz"), dir);
  return dir;
}
