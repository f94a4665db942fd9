import type { TmfMessage } from "./tmf.js";

/**
 * Writes `.tmf` text in tracepdb's layout: one file per message GUID, a header line, then each
 * message as `#typev` + `{ args }`. Messages are written in message-number order.
 */
export function writeTmfText(
  messages: readonly TmfMessage[],
  options: { pdbName?: string; now?: Date } = {},
): string {
  if (messages.length === 0) return "";
  const first = messages[0]!;
  const other = messages.find((m) => m.messageGuid !== first.messageGuid);
  if (other) throw new Error(`writeTmfText: messages of ${first.messageGuid} and ${other.messageGuid} mixed`);
  const out: string[] = [];
  if (options.pdbName) {
    out.push(`// PDB:  ${options.pdbName}`);
    const when = (options.now ?? new Date()).toISOString().replace("T", ":").replace(/\..*$/, "");
    out.push(`// PDB:  Last Updated :${when} (UTC) [etw-atlas]`);
  }
  out.push(`${first.messageGuid} ${first.component} //${attrs(first.headerAttributes)}`);
  for (const m of [...messages].sort((a, b) => a.messageNumber - b.messageNumber)) {
    out.push(`#typev ${m.name} ${m.messageNumber} "${m.format}" //  ${attrs(m.attributes)}`);
    out.push("{");
    for (const a of [...m.args].sort((x, y) => x.argNo - y.argNo)) {
      const type = a.itemArgs !== undefined ? `${a.itemType}(${a.itemArgs})` : a.itemType;
      out.push(`${a.name}, ${type} -- ${a.argNo}`);
    }
    out.push("}");
  }
  return `${out.join("\n")}\n`;
}

function attrs(list: ReadonlyArray<[string, string]>): string {
  return list.map(([k, v]) => ` ${k}=${v}`).join("");
}

/** Groups messages by message GUID: tracepdb writes one `<guid>.tmf` per group. */
export function groupByMessageGuid(messages: readonly TmfMessage[]): Map<string, TmfMessage[]> {
  const groups = new Map<string, TmfMessage[]>();
  for (const m of messages) {
    const g = groups.get(m.messageGuid);
    if (g) g.push(m);
    else groups.set(m.messageGuid, [m]);
  }
  return groups;
}
