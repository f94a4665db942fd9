/**
 * Rows in the layout of the Windows10EtwEvents catalog (one TSV per provider), so exports can be
 * compared line by line with it. Conventions learned from its 26H1 files:
 * - `event(fields)`: event name, then `(Type Name, Type Name, ...)`; Type is the manifest inType
 *   without the `win:` prefix (UInt32, UnicodeString, HexInt32, GUID, Struct...); struct members and
 *   counts are not shown; no fields gives `Name()`.
 * - opcode / task: display names (message text without spaces, else the name without `win:`);
 *   level: name without `win:` ("Informational"); empty when absent.
 * - keywords: the event's keyword names separated by single spaces, as spelled in the manifest.
 * - MOF rows: category is the event class GUID in braces; types are the MOF types capitalised
 *   (uint32 -> UInt32, object -> Object, string -> String, char16 -> Char16).
 */

import type { CatalogEvent, Field } from "./model.js";
import { stripWin, w10DisplayName } from "./naming.js";

export const W10_MANIFEST_COLUMNS = [
  "provider",
  "event_id",
  "version",
  "event(fields)",
  "opcode",
  "keywords",
  "task",
  "level",
  "evtlog_channel",
  "evtlog_message",
] as const;

export const W10_MOF_COLUMNS = [
  "provider",
  "category",
  "event_id",
  "version",
  "event(fields)",
  "event_type",
  "description",
] as const;

/** TSV cells cannot hold tabs or line breaks. */
export function tsvCell(text: string | number | undefined): string {
  return text === undefined ? "" : String(text).replace(/[\t\r\n]+/g, " ");
}

/** MOF type as that catalog prints it: first letter upper-case, `sint`/`uint` kept ("SInt32"). */
function mofTypeName(mofType: string): string {
  const t = mofType.toLowerCase();
  if (t.startsWith("sint") || t.startsWith("uint")) return t[0]!.toUpperCase() + "Int" + t.slice(4);
  return t.charAt(0).toUpperCase() + t.slice(1);
}

/** Type shown for one field: MOF type for MOF events, manifest inType otherwise. */
export function w10FieldType(field: Field, kind: CatalogEvent["kind"]): string {
  const mofType = field.extra?.mofType;
  if (kind === "mof" && typeof mofType === "string") return mofTypeName(mofType);
  return stripWin(field.inType);
}

/** `Name(Type A, Type B)` as in the `event(fields)` column. */
export function w10EventSignature(ev: Pick<CatalogEvent, "name" | "fields" | "kind">): string {
  return `${ev.name}(${ev.fields.map((f) => `${w10FieldType(f, ev.kind)} ${f.name}`).join(", ")})`;
}

/** One manifest-layout row (columns W10_MANIFEST_COLUMNS), cells already TSV-safe. */
export function formatManifestRowW10(ev: CatalogEvent): string[] {
  return [
    ev.provider.name,
    String(ev.id),
    String(ev.version),
    w10EventSignature(ev),
    w10DisplayName(ev.opcode) || (ev.opcode && ev.opcode.value !== 0 ? `opcode_${ev.opcode.value}` : ""),
    ev.keywords.names.join(" "),
    w10DisplayName(ev.task),
    stripWin(ev.level?.name),
    ev.channel?.name ?? "",
    ev.message ?? "",
  ].map(tsvCell);
}

/** One MOF-layout row (columns W10_MOF_COLUMNS), cells already TSV-safe. */
export function formatMofRowW10(ev: CatalogEvent): string[] {
  const guid = ev.mof?.classGuid ?? ev.provider.guid;
  return [
    ev.provider.name,
    guid ? `{${guid}}` : "",
    String(ev.id),
    String(ev.version),
    w10EventSignature(ev),
    ev.mof?.eventTypeName ?? "",
    ev.message ?? "",
  ].map(tsvCell);
}

/**
 * Header + rows for one provider, choosing the layout by event kind (MOF vs everything else),
 * sorted like that catalog: by event id then version (MOF: class GUID first).
 */
export function formatProviderTsvW10(events: CatalogEvent[]): string {
  const isMof = events.length > 0 && events.every((e) => e.kind === "mof");
  const header = isMof ? W10_MOF_COLUMNS : W10_MANIFEST_COLUMNS;
  const sorted = [...events].sort(
    (a, b) =>
      (isMof ? (a.mof?.classGuid ?? "").localeCompare(b.mof?.classGuid ?? "") : 0) ||
      a.id - b.id ||
      a.version - b.version,
  );
  const rows = sorted.map((e) => (isMof ? formatMofRowW10(e) : formatManifestRowW10(e)).join("\t"));
  return [header.join("\t"), ...rows].join("\n") + "\n";
}
