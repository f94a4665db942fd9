// @ts-check
// File paths as the explorer shows them: relative to the root the user scanned (`scan_roots` of the
// catalog, in /api/summary as `roots`), e.g. `builds/10.0.19041.508/win32u.dll` for a scan of
// ../shared/corpus. No DOM here: test/web-paths.test.ts imports this module in Node.

/**
 * `path` relative to the broadest scan root it lies under; a file given to the scan itself shows as
 * its name; a path under no recorded root (catalogs from before roots were recorded) is shown
 * relative to `common`, the directory every scanned file shares.
 * @param {string} path @param {string[]} roots @param {string} [common]
 */
export function relativePath(path, roots, common = "") {
  let best = "";
  for (const root of roots) {
    if (path === root) return path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
    const dir = /[\\/]$/.test(root) ? root : `${root}/`;
    const under = path.startsWith(dir) || path.startsWith(dir.replace(/\/$/, "\\"));
    if (under && (!best || root.length < best.length)) best = root;
  }
  if (best) return path.slice(best.length).replace(/^[\\/]+/, "");
  return common && path.startsWith(common) ? path.slice(common.length).replace(/^[\\/]/, "") : path;
}

/**
 * The page's path function for a catalog summary (`roots`, `root`).
 * @param {{roots?: string[], root?: string}} summary
 * @returns {(path: string) => string}
 */
export function relativeTo(summary) {
  const roots = summary.roots ?? [];
  const common = summary.root ?? "";
  return (path) => relativePath(path, roots, common);
}
