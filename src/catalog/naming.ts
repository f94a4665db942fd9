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
 * An opcode whose own name starts with a lower-case letter appears in that catalog as the rest of
 * the name upper-cased, then the rest as is ("dnsDeregistrationDone" -> "NSDEREGISTRATIONDONE" +
 * "nsDeregistrationDone", "opcode_64" -> "PCODE_64pcode_64"): PerfView's spelling, kept so names
 * join theirs.
 */
function opcodePart(n: Named): string {
  const part = namePart(n);
  if (n.name?.startsWith("win:") || !/^[a-z]/.test(part)) return part;
  const rest = part.slice(1);
  return rest.toUpperCase() + rest;
}

/**
 * The base name the Windows10EtwEvents catalog gives an event that has no symbol: task display name
 * then opcode display name (opcode 0 "Info" adds nothing). Events without a task use
 * "task_0", as that catalog names unnamed task 0.
 */
export function deriveEventName(ev: Pick<CatalogEvent, "task" | "opcode">): string {
  const task = (ev.task && namePart(ev.task)) || `task_${ev.task?.value ?? 0}`;
  const opcode =
    ev.opcode && ev.opcode.value !== 0 ? opcodePart(ev.opcode) || `opcode_${ev.opcode.value}` : "";
  // "Service_Stop" + "Stop" stays "Service_Stop", "Autostart" + "Start" stays "Autostart": that
  // catalog does not repeat an opcode the task name ends with, in any letter case.
  return opcode && task.toLowerCase().endsWith(opcode.toLowerCase()) ? task : task + opcode;
}

/** What naming reads of an event. */
export type NameSource = Pick<CatalogEvent, "task" | "opcode" | "id" | "version">;

/**
 * The names of one provider's events without symbols, the way that catalog makes them unique: a
 * base name belongs to one event id, the first in the order (version, position) — so a version-0
 * event keeps "DmaPacket" and a version-1 event listed before it becomes "DmaPacket177_V1"; other
 * ids append their id ("SessionStart" -> "SessionStart10"); versions above 0 add "_V<version>".
 * Returns one name per event, in the given order.
 */
export function deriveEventNames(events: readonly NameSource[]): string[] {
  const bases = events.map(deriveEventName);
  const owners = new Map<string, number>();
  const order = events.map((_, i) => i).sort((a, b) => events[a]!.version - events[b]!.version || a - b);
  for (const i of order) if (!owners.has(bases[i]!)) owners.set(bases[i]!, events[i]!.id);
  return events.map((ev, i) => {
    const base = bases[i]!;
    const name = owners.get(base) === ev.id ? base : base + ev.id;
    return ev.version > 0 ? `${name}_V${ev.version}` : name;
  });
}
