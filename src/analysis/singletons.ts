/**
 * `this` of the exported member functions of a class the image hands out as one instance.
 * vcamp140.dll exports `_Amp_runtime_trace` methods (`?_Write_end_event@_Amp_runtime_trace@…@@QEAAXK@Z`)
 * that other modules call on what `?_Get_amp_trace@…@@YAPEAV_Amp_runtime_trace@…@XZ` returns: the
 * address of one static object. Their writes read the handle through `this`, which no caller in the
 * image names; the getter does. Only when the image exports no constructor of the class (no other
 * module can make another instance), every getter of the class returns the same image address, and
 * the decorated names parse (msvc-names.ts).
 */
import { readExports } from "../formats/pe/index.js";
import type { Code } from "./disasm.js";
import { parseDecoratedName } from "./msvc-names.js";
import type { Value, ValueResolver } from "./values.js";

interface Program {
  pe: Parameters<typeof readExports>[0];
  code: Code;
  values: ValueResolver;
}

const cache = new WeakMap<Code, Map<number, Value>>();

/** The one object `this` points to in exported member function fnRva, when the image proves it. */
export function singletonThis(p: Program, fnRva: number): Value | undefined {
  let map = cache.get(p.code);
  if (!map) cache.set(p.code, (map = singletonMembers(p)));
  return map.get(fnRva);
}

function singletonMembers(p: Program): Map<number, Value> {
  const members = new Map<string, number[]>();
  const instance = new Map<string, Value | null>();
  const constructed = new Set<string>();
  for (const e of readExports(p.pe)?.entries ?? []) {
    if (e.forwarder) continue;
    for (const name of e.names) {
      const d = parseDecoratedName(name);
      if (!d) continue;
      if (d.kind === "constructor") constructed.add(d.scope);
      else if (d.kind === "method") members.set(d.scope, [...(members.get(d.scope) ?? []), e.rva]);
      else if (d.kind === "getter") {
        const v = p.values.returnedFrom(e.rva);
        const had = instance.get(d.returns);
        const same = v?.k === "addr" && (had === undefined || (had?.k === "addr" && had.rva === v.rva));
        instance.set(d.returns, same ? v : null);
      }
    }
  }
  const out = new Map<number, Value>();
  for (const [scope, v] of instance) {
    if (!v || constructed.has(scope)) continue;
    for (const rva of members.get(scope) ?? []) out.set(rva, v);
  }
  return out;
}
