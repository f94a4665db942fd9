import type { CatalogEvent, Named } from "./model.js";

/** Drops the winmeta `win:` prefix from a name ("win:Start" -> "Start"). */
export function stripWin(name: string | undefined): string {
  if (!name) return "";
  return name.startsWith("win:") ? name.slice(4) : name;
}

/** The task/opcode column of that catalog: the name without `win:`, else the message without spaces. */
export function w10DisplayName(n: Named | undefined): string {
  if (!n) return "";
  return stripWin(n.name) || (n.message ?? "").replace(/\s+/g, "");
}

/** In derived event names winmeta values appear as Windows displays them ("win:DC_Stop" -> "DCStop"). */
function namePart(n: Named): string {
  if (n.name?.startsWith("win:") && n.message) return n.message.replace(/\s+/g, "");
  return w10DisplayName(n);
}

/**
 * The base name the Windows10EtwEvents catalog gives an event that has no symbol: task display name
 * then opcode display name (opcode 0 "Info" adds nothing). Events without a task use
 * "task_0", as that catalog names unnamed task 0.
 */
export function deriveEventName(ev: Pick<CatalogEvent, "task" | "opcode">): string {
  const task = (ev.task && namePart(ev.task)) || `task_${ev.task?.value ?? 0}`;
  const opcode = ev.opcode && ev.opcode.value !== 0 ? namePart(ev.opcode) || `opcode_${ev.opcode.value}` : "";
  // "Service_Stop" + "Stop" stays "Service_Stop": that catalog does not repeat an opcode the task name ends with.
  return opcode && task.endsWith(opcode) ? task : task + opcode;
}

/**
 * Makes names unique per provider the way that catalog does: the first event id to use a base name
 * keeps it, other ids append their id ("SessionStart" -> "SessionStart10"); versions above 0 add
 * "_V<version>" ("SessionStart10_V1"). Symbols from a source manifest are kept as they are.
 */
export class EventNamer {
  private readonly owners = new Map<string, number>();

  name(base: string, id: number, version = 0): string {
    const owner = this.owners.get(base);
    let name = base;
    if (owner === undefined) this.owners.set(base, id);
    else if (owner !== id) name = base + id;
    return version > 0 ? `${name}_V${version}` : name;
  }
}
