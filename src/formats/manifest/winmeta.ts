/**
 * Predefined ("winmeta") values every instrumentation manifest may reference with the `win:` prefix
 * without defining them. Facts from Microsoft's public winmeta.xml / winmeta.h documentation.
 */

export interface WinmetaValue {
  name: string;
  value: number;
  /** Display text Windows shows for the value. */
  message: string;
}

export const winmetaLevels: WinmetaValue[] = [
  { name: "win:LogAlways", value: 0, message: "Log Always" },
  { name: "win:Critical", value: 1, message: "Critical" },
  { name: "win:Error", value: 2, message: "Error" },
  { name: "win:Warning", value: 3, message: "Warning" },
  { name: "win:Informational", value: 4, message: "Information" },
  { name: "win:Verbose", value: 5, message: "Verbose" },
];

/** Spellings seen in manifests rebuilt from TDH data that are not in winmeta.xml itself. */
const levelAliases: Record<string, number> = { "win:Always": 0, "win:None": 0, "win:NoneLevel": 0 };

export const winmetaOpcodes: WinmetaValue[] = [
  { name: "win:Info", value: 0, message: "Info" },
  { name: "win:Start", value: 1, message: "Start" },
  { name: "win:Stop", value: 2, message: "Stop" },
  { name: "win:DC_Start", value: 3, message: "DCStart" },
  { name: "win:DC_Stop", value: 4, message: "DCStop" },
  { name: "win:Extension", value: 5, message: "Extension" },
  { name: "win:Reply", value: 6, message: "Reply" },
  { name: "win:Resume", value: 7, message: "Resume" },
  { name: "win:Suspend", value: 8, message: "Suspend" },
  { name: "win:Send", value: 9, message: "Send" },
  { name: "win:Receive", value: 240, message: "Receive" },
];

export const winmetaTasks: WinmetaValue[] = [{ name: "win:None", value: 0, message: "None" }];

/** Keyword bits 48..63 are reserved for these. Masks as hex text (64-bit). */
export const winmetaKeywords: Array<{ name: string; mask: string; message: string }> = [
  { name: "win:AnyKeyword", mask: "0x0", message: "AnyKeyword" },
  { name: "win:ResponseTime", mask: "0x1000000000000", message: "Response Time" },
  { name: "win:WDIContext", mask: "0x2000000000000", message: "WDI Context" },
  { name: "win:WDIDiag", mask: "0x4000000000000", message: "WDI Diag" },
  { name: "win:SQM", mask: "0x8000000000000", message: "SQM" },
  { name: "win:AuditFailure", mask: "0x10000000000000", message: "Audit Failure" },
  { name: "win:AuditSuccess", mask: "0x20000000000000", message: "Audit Success" },
  { name: "win:CorrelationHint", mask: "0x40000000000000", message: "Correlation Hint" },
  { name: "win:EventlogClassic", mask: "0x80000000000000", message: "Classic" },
];

/** Standard channels: imported by name ("System") or referenced as win:System. */
export const winmetaChannels: WinmetaValue[] = [
  { name: "TraceClassic", value: 0, message: "TraceClassic" },
  { name: "System", value: 8, message: "System" },
  { name: "Application", value: 9, message: "Application" },
  { name: "Security", value: 10, message: "Security" },
  { name: "TraceLogging", value: 11, message: "TraceLogging" },
  { name: "ProviderMetadata", value: 12, message: "ProviderMetadata" },
];

/** Channel types a manifest `<channel type=...>` may declare. */
export const channelTypes = ["Admin", "Operational", "Analytic", "Debug"] as const;

function lookup(table: WinmetaValue[], name: string): WinmetaValue | undefined {
  return table.find((v) => v.name === name);
}

export function winmetaLevel(name: string): WinmetaValue | undefined {
  const found = lookup(winmetaLevels, name);
  if (found) return found;
  const alias = levelAliases[name];
  return alias === undefined ? undefined : { name, value: alias, message: winmetaLevels[alias]!.message };
}

export function winmetaOpcode(name: string): WinmetaValue | undefined {
  return lookup(winmetaOpcodes, name);
}

export function winmetaTask(name: string): WinmetaValue | undefined {
  return lookup(winmetaTasks, name);
}

export function winmetaKeyword(name: string): { name: string; mask: string; message: string } | undefined {
  return winmetaKeywords.find((k) => k.name.toLowerCase() === name.toLowerCase());
}

/** Accepts "System", "win:System" (both spellings occur). */
export function winmetaChannel(name: string): WinmetaValue | undefined {
  const bare = name.startsWith("win:") ? name.slice(4) : name;
  return lookup(winmetaChannels, bare);
}

/** Reverse look-ups for sources that carry only numbers (TraceLogging, WPP): value → winmeta name. */
export function winmetaLevelByValue(value: number): WinmetaValue | undefined {
  return winmetaLevels.find((v) => v.value === value);
}

export function winmetaOpcodeByValue(value: number): WinmetaValue | undefined {
  return winmetaOpcodes.find((v) => v.value === value);
}

export function winmetaChannelByValue(value: number): WinmetaValue | undefined {
  return winmetaChannels.find((v) => v.value === value);
}
