import { normalizeGuid } from "../../util/bytes.js";
import { FormatError } from "../../util/errors.js";

/**
 * WPP trace message format (TMF) metadata, as tracewpp writes it into `__annotation` strings
 * (S_ANNOTATION records in the PDB) and as tracepdb writes it into `.tmf` text files:
 *
 *   TMF:                                                         (annotation only)
 *   <message GUID> <component> // SRC=<file> MJ=<major> MN=<minor>
 *   #typev <name> <number> "<format>" // LEVEL=<level> FLAGS=<flag> FUNC=<function>
 *   {
 *   <argument expression>, <ItemType>[(<items>)] -- <argument number>
 *   }
 *   PUBLIC_TMF:                                                  (optional, annotation only)
 *
 * and the control GUID annotation `TMC:`, `<control GUID>`, `<control name>`, `<bit 0 name>`, ...
 */

const F = "wpp";
/** Longest TMF line accepted (tracewpp lines are well under 1 KB; this bounds regex work). */
const MAX_LINE = 8192;
const GUID_RE = /^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$/;

export interface TmfArgument {
  /** The C expression passed to the trace macro (tracewpp's name for the argument). */
  name: string;
  /** WPP item type, e.g. "ItemLong", "ItemWString", "ItemNTSTATUS". */
  itemType: string;
  /** Text inside `ItemType(...)`: list/set labels or an enum type name. */
  itemArgs?: string;
  /** Position in the format string (`%10` is the first user argument). */
  argNo: number;
}

export interface TmfMessage {
  /** Lower-case message GUID (the TMF file's GUID; the WPP_..._Traceguids array in the binary). */
  messageGuid: string;
  component: string;
  sourceFile?: string;
  /** Every KEY=value pair of the header comment (SRC, MJ, MN, ...) in order. */
  headerAttributes: Array<[string, string]>;
  /** `#typev` name, e.g. "wpp_driver_c42" (<file>_<ext><line>). */
  name: string;
  messageNumber: number;
  /** Format string as written (with `%0`, `%10!d!`, `%!FUNC!` ...). */
  format: string;
  level?: string;
  flags?: string;
  function?: string;
  /** Every KEY=value pair of the `#typev` comment (LEVEL, FLAGS, FUNC, ...) in order. */
  attributes: Array<[string, string]>;
  args: TmfArgument[];
  /** True when the annotation carried the trailing "PUBLIC_TMF:" marker. */
  public?: boolean;
}

export interface TmcControl {
  /** Lower-case control GUID (the provider GUID that tracelog enables). */
  guid: string;
  name: string;
  /** Flag (bit) names in WPP_DEFINE_BIT order: bit i ⇒ mask 1 << i. */
  flagNames: string[];
  public?: boolean;
}

export type WppAnnotation = { kind: "tmf"; messages: TmfMessage[] } | { kind: "tmc"; control: TmcControl };

/** `KEY=value KEY2=value2`: a value runs to the next KEY= (values may be empty or hold spaces). */
export function parseCommentAttributes(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const re = /(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=/g;
  const hits: Array<{ key: string; start: number; valueStart: number }> = [];
  for (let m = re.exec(text); m; m = re.exec(text)) {
    hits.push({ key: m[1]!, start: m.index, valueStart: m.index + m[0].length });
  }
  hits.forEach((h, i) => {
    const end = i + 1 < hits.length ? hits[i + 1]!.start : text.length;
    out.push([h.key, text.slice(h.valueStart, end).trim()]);
  });
  return out;
}

function attr(list: Array<[string, string]>, key: string): string | undefined {
  const hit = list.find(([k]) => k === key);
  return hit && hit[1] !== "" ? hit[1] : undefined;
}

interface TmfHeader {
  messageGuid: string;
  component: string;
  headerAttributes: Array<[string, string]>;
}

/** `<guid> <component> // SRC=... MJ=... MN=...` */
export function parseTmfHeader(line: string, where = "TMF header"): TmfHeader {
  const m = /^\s*(\S+)(?:\s+([^\s/][^\s]*))?\s*(?:\/\/(.*))?$/.exec(line);
  const g = m ? GUID_RE.exec(m[1]!) : null;
  if (!m || !g)
    throw new FormatError(F, `${where}: expected "<GUID> <component> // ...", got "${clip(line)}"`);
  return {
    messageGuid: normalizeGuid(g[1]!),
    component: m[2] ?? "",
    headerAttributes: parseCommentAttributes(m[3] ?? ""),
  };
}

/** `#typev <name> <number> "<format>" // LEVEL=... FLAGS=... FUNC=...` */
export function parseTypevLine(
  line: string,
  where = "#typev line",
): Pick<TmfMessage, "name" | "messageNumber" | "format" | "attributes" | "level" | "flags" | "function"> {
  if (line.length > MAX_LINE)
    throw new FormatError(F, `${where}: line of ${line.length} characters is too long`);
  // The format is everything between the first quote and the last quote that is followed only by
  // an optional comment without quotes, so quotes inside the format survive.
  const m = /^\s*#typev\s+(\S+)\s+(\d+)\s+"(.*)"\s*(?:\/\/([^"]*))?$/.exec(line);
  if (!m)
    throw new FormatError(
      F,
      `${where}: expected '#typev <name> <number> "<format>" // ...', got "${clip(line)}"`,
    );
  const messageNumber = Number(m[2]);
  if (messageNumber > 0xffff)
    throw new FormatError(F, `${where}: message number ${messageNumber} exceeds 16 bits`);
  const attributes = parseCommentAttributes(m[4] ?? "");
  return {
    name: m[1]!,
    messageNumber,
    format: m[3]!,
    attributes,
    level: attr(attributes, "LEVEL"),
    flags: attr(attributes, "FLAGS"),
    function: attr(attributes, "FUNC"),
  };
}

/** `<expr>, <ItemType>[(<items>)] -- <argNo>`; the expression itself may contain commas. */
export function parseArgumentLine(line: string, where = "argument line"): TmfArgument {
  // Bound the work the backtracking regex can do on hostile input.
  if (line.length > MAX_LINE)
    throw new FormatError(F, `${where}: line of ${line.length} characters is too long`);
  // Greedy expression + backtracking: `f(a, b), ItemLong -- 10` and `x, ItemListLong(A,B) -- 10` both split right.
  const hit = /^\s*(.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*--\s*(\d+)\s*$/.exec(line);
  if (!hit) throw new FormatError(F, `${where}: expected "<expr>, <ItemType> -- <n>", got "${clip(line)}"`);
  const arg: TmfArgument = { name: hit[1]!.trim(), itemType: hit[2]!, argNo: Number(hit[4]) };
  if (hit[3] !== undefined) arg.itemArgs = hit[3];
  return arg;
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * Parses the body shared by annotations and .tmf files: a header line, then `#typev` blocks each
 * followed by `{ args }`. Other `#` directives and `//` comment lines are skipped.
 */
function parseTmfLines(lines: string[], where: string): TmfMessage[] {
  let i = 0;
  const skip = () => {
    while (i < lines.length && (lines[i]!.trim() === "" || lines[i]!.trim().startsWith("//"))) i++;
  };
  skip();
  if (i >= lines.length) throw new FormatError(F, `${where}: no TMF header line`);
  const header = parseTmfHeader(lines[i]!, `${where} line ${i + 1}`);
  i++;
  const messages: TmfMessage[] = [];
  for (;;) {
    skip();
    if (i >= lines.length) break;
    const line = lines[i]!.trim();
    if (!line.startsWith("#typev")) {
      // Unknown directive (e.g. #enumv) with an optional { } block: skip it whole.
      i++;
      skip();
      if (lines[i]?.trim() === "{") {
        while (i < lines.length && lines[i]!.trim() !== "}") i++;
        i++;
      }
      continue;
    }
    const typev = parseTypevLine(line, `${where} line ${i + 1}`);
    i++;
    skip();
    const args: TmfArgument[] = [];
    if (lines[i]?.trim() === "{") {
      i++;
      for (;;) {
        if (i >= lines.length)
          throw new FormatError(F, `${where}: argument block of ${typev.name} has no closing "}"`);
        const a = lines[i]!.trim();
        i++;
        if (a === "}") break;
        if (a === "" || a.startsWith("//")) continue;
        args.push(parseArgumentLine(a, `${where} line ${i}`));
      }
    }
    const msg: TmfMessage = {
      messageGuid: header.messageGuid,
      component: header.component,
      headerAttributes: header.headerAttributes,
      ...typev,
      args,
    };
    const src = attr(header.headerAttributes, "SRC");
    if (src !== undefined) msg.sourceFile = src;
    for (const k of ["level", "flags", "function"] as const) if (msg[k] === undefined) delete msg[k];
    messages.push(msg);
  }
  return messages;
}

/**
 * Interprets the strings of one S_ANNOTATION record. Returns undefined for annotations that are
 * not WPP's (e.g. TraceLogging's "_TlgWrite:" ones).
 */
export function parseWppAnnotation(strings: readonly string[]): WppAnnotation | undefined {
  const tag = strings[0]?.trim();
  if (tag !== "TMF:" && tag !== "TMC:") return undefined;
  let body = strings.slice(1);
  const isPublic = body.length > 0 && body[body.length - 1]!.trim() === "PUBLIC_TMF:";
  if (isPublic) body = body.slice(0, -1);
  if (tag === "TMC:") {
    if (body.length < 2)
      throw new FormatError(F, `TMC annotation has ${body.length} strings; needs a GUID and a name`);
    const g = GUID_RE.exec(body[0]!.trim());
    if (!g) throw new FormatError(F, `TMC annotation: "${clip(body[0]!)}" is not a control GUID`);
    const control: TmcControl = {
      guid: normalizeGuid(g[1]!),
      name: body[1]!.trim(),
      flagNames: body.slice(2).map((s) => s.trim()),
    };
    if (isPublic) control.public = true;
    return { kind: "tmc", control };
  }
  // Strings may themselves hold several lines (the .tmf text was joined by the compiler).
  const lines = body.flatMap((s) => s.split(/\r?\n/));
  const messages = parseTmfLines(lines, "TMF annotation");
  if (isPublic) for (const m of messages) m.public = true;
  return { kind: "tmf", messages };
}

/** Parses a `.tmf` text file (tracepdb output): one message GUID, any number of messages. */
export function parseTmfText(text: string): TmfMessage[] {
  return parseTmfLines(text.replace(/^\uFEFF/, "").split(/\r?\n/), "TMF file");
}

/** True when the text looks like a .tmf file: optional `//` lines, then a `<GUID> <name>` line and `#typev`. */
export function looksLikeTmfText(text: string): boolean {
  const lines = text
    .replace(/^\uFEFF/, "")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("//"));
  if (lines.length < 2) return false;
  const first = /^(\S+)/.exec(lines[0]!);
  return !!first && GUID_RE.test(first[1]!) && lines.slice(1, 4).some((l) => l.startsWith("#typev"));
}
