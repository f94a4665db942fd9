/**
 * Event identity: the one definition of "the same event" for every provider kind. The diff, the
 * event ↔ code-site join (catalog, `events --sites`, web explorer) and the analysis's own join all
 * use these keys; a second copy would drift.
 *
 * | kind         | identity                                                                        |
 * |--------------|---------------------------------------------------------------------------------|
 * | manifest     | provider GUID + event id + version                                              |
 * | mof          | class GUID + event type + version                                               |
 * | tracelogging | provider name from the metadata + event name + field signature                  |
 * | wpp          | message GUID + message number                                                   |
 * | kernel       | hook id (+ group mask); joins the MOF event type of the hook's trace group      |
 *
 * TraceLogging: when an image has several providers, which provider writes which event is known
 * only from the code (`tracelogging.providerFrom = "code"`); that association is left out of the
 * identity, so a build where the analysis ties fewer events does not look like other events.
 *
 * A site's version is sometimes unknown (descriptor built at run time): its key then carries `*`
 * and it joins every version (`siteJoinKeys` of an event includes the `*` form).
 */
import { TRACE_GROUP_MOF_CATEGORY } from "../formats/mof/trace-groups.js";
import type { CatalogEvent, Field } from "./model.js";

/** The parts of an event record identity reads. */
export type IdentitySource = Pick<
  CatalogEvent,
  "kind" | "provider" | "id" | "version" | "name" | "fields"
> & {
  mof?: Pick<NonNullable<CatalogEvent["mof"]>, "classGuid" | "category">;
  wpp?: Pick<NonNullable<CatalogEvent["wpp"]>, "messageGuid">;
  tracelogging?: Pick<NonNullable<CatalogEvent["tracelogging"]>, "providerFrom">;
};

const lower = (s: string | undefined): string => (s ?? "").toLowerCase();

export function manifestKey(guid: string, id: number, version: number | "*"): string {
  return `manifest|${lower(guid)}|${id}|${version}`;
}

export function mofKey(classGuid: string, eventType: number, version: number | "*"): string {
  return `mof|${lower(classGuid)}|${eventType}|${version}`;
}

export function wppKey(messageGuid: string, messageNumber: number): string {
  return `wpp|${lower(messageGuid)}|${messageNumber}`;
}

/** Legacy kernel event (EtwTraceKernelEvent): the hook id says the class and event type. */
export function kernelKey(hookId: number): string {
  return `kernel|0x${hookId.toString(16).padStart(4, "0")}`;
}

/** Field signature: names and input types, struct members nested in braces. */
export function fieldSignature(fields: Field[]): string {
  return fields
    .map((f) => `${f.name}:${f.inType}${f.fields?.length ? `{${fieldSignature(f.fields)}}` : ""}`)
    .join(",");
}

/** The TraceLogging provider as the metadata alone says it ("" when only code ties it). */
export function traceLoggingProviderPart(ev: IdentitySource): string {
  if (ev.tracelogging?.providerFrom === "code") return "";
  return lower(ev.provider.name || ev.provider.guid);
}

export function traceLoggingKey(ev: IdentitySource): string {
  return `tracelogging|${traceLoggingProviderPart(ev)}|${ev.name}|${fieldSignature(ev.fields)}`;
}

/** A provider: its kind and GUID, or its name (lower case) when it has no GUID. */
export function providerIdentity(kind: string, provider: { guid: string; name: string }): string {
  return `${kind}|${provider.guid || provider.name.toLowerCase()}`;
}

/** Hook id of a kernel MOF event (trace group of its category + event type), when it has one. */
const GROUP_OF_CATEGORY = new Map([...TRACE_GROUP_MOF_CATEGORY].map(([group, cat]) => [cat, group]));
export function kernelHookOf(ev: IdentitySource): number | undefined {
  if (ev.kind !== "mof" || !ev.mof || ev.id < 0 || ev.id > 0xff) return undefined;
  const group = GROUP_OF_CATEGORY.get(ev.mof.category);
  return group === undefined ? undefined : group | ev.id;
}

/**
 * The identity of an event record: equal keys = the same event (possibly read from several files or
 * builds). Providers without a GUID (some TraceLogging, unnamed WPP) fall back to names.
 */
export function eventIdentity(ev: IdentitySource): string {
  switch (ev.kind) {
    case "manifest":
      return manifestKey(ev.provider.guid || ev.provider.name, ev.id, ev.version);
    case "mof":
      return mofKey(ev.mof?.classGuid || ev.provider.guid, ev.id, ev.version);
    case "wpp":
      return wppKey(ev.wpp?.messageGuid ?? ev.provider.guid, ev.id);
    case "tracelogging":
      return traceLoggingKey(ev);
  }
}

/**
 * The identity without the version: the versions of one event (diff compares them as one event).
 * TraceLogging and WPP have no versions that mean anything, so their key is the identity.
 */
export function eventFamily(ev: IdentitySource): string {
  switch (ev.kind) {
    case "manifest":
      return manifestKey(ev.provider.guid || ev.provider.name, ev.id, "*");
    case "mof":
      return mofKey(ev.mof?.classGuid || ev.provider.guid, ev.id, "*");
    default:
      return eventIdentity(ev);
  }
}

/** Every site key that names this event: its identity, the any-version form, the kernel hook. */
export function siteJoinKeys(ev: IdentitySource): string[] {
  const keys = [eventIdentity(ev)];
  if (ev.kind === "manifest" || ev.kind === "mof") keys.push(eventFamily(ev));
  const hook = kernelHookOf(ev);
  if (hook !== undefined) keys.push(kernelKey(hook));
  return keys;
}

/**
 * The build rule of every event ↔ site join: a site of build X is never a site of an event of build
 * Y ≠ X. An event whose source carries no build (manifest XML, text MOF, PDB/TMF WPP) describes its
 * provider in whatever build writes it, so it joins sites of every build; a site whose binary has no
 * Windows build joins only such build-less events.
 */
export function buildsJoin(
  eventBuild: string | null | undefined,
  siteBuild: string | null | undefined,
): boolean {
  return !eventBuild || eventBuild === siteBuild;
}
