/**
 * Suggested names for anonymous events (`task_NNN`, `task_0`): the nearest named function of the
 * chain, from the write site outward, with the tracing prefixes Windows puts on its logging
 * helpers taken off (`EtwTraceAuditApiSetWindowsHookEx` → `SetWindowsHookEx`). Shown beside the
 * real name, never instead of it.
 */
import type { Hop } from "./linker.js";

export function isAnonymousEventName(name: string | undefined): boolean {
  return name === undefined || name === "" || /^task_\d+$/i.test(name);
}

/** Logging-helper prefixes, longest first, taken off repeatedly. */
const PREFIXES = ["EtwTrace", "Etw", "Trace", "Audit", "Api", "Log", "Ui", "Wpp", "Mc", "Tlg"];

function stripped(fn: string): string | undefined {
  if (/^sub_[0-9A-F]+$/i.test(fn) || /^(Etw|Event)(Write|Register)/.test(fn)) return undefined;
  let s = fn.replace(/^_+/, "");
  for (let changed = true; changed; ) {
    changed = false;
    for (const p of PREFIXES)
      if (s.startsWith(p) && /^[A-Z]/.test(s.slice(p.length))) {
        s = s.slice(p.length);
        changed = true;
      }
  }
  return s.length >= 3 ? s : undefined;
}

export function suggestedEventName(eventName: string | undefined, chain: Hop[]): string | undefined {
  if (!isAnonymousEventName(eventName)) return undefined;
  for (let i = chain.length - 1; i >= 0; i--) {
    const s = stripped(chain[i]!.function);
    if (s) return s;
  }
  return undefined;
}
