/**
 * Just enough of Microsoft C++ name decoration to type `this`: which class a member function,
 * constructor or singleton getter of an export belongs to. Facts used (documented decoration
 * scheme): `?name@Scope@Outer@@` names a function in a scope, `??0Scope@…@@` a constructor; the
 * letter after `@@` says member (A B E F I J M N Q R U V: instance functions with `this`) or global
 * function (Y Z); a digit is a back-reference to an earlier name of the same decorated name; the
 * getter's return type `PEAV`/`PEAU` + scope is a pointer to a class or struct. Templates,
 * operators and anything else are not parsed (undefined).
 */
export type DecoratedName =
  | { kind: "method"; scope: string }
  | { kind: "constructor"; scope: string }
  | { kind: "getter"; returns: string };

const INSTANCE_MEMBER = new Set("ABEFIJMNQRUV");

export function parseDecoratedName(name: string): DecoratedName | undefined {
  const table: string[] = [];
  if (name.startsWith("??0")) {
    const scope = readNames(name, 3, table);
    return scope && scope.names.length > 0
      ? { kind: "constructor", scope: scope.names.join("@") }
      : undefined;
  }
  if (!name.startsWith("?") || name.startsWith("??")) return undefined;
  const qualified = readNames(name, 1, table);
  if (!qualified || qualified.names.length === 0) return undefined;
  const scope = qualified.names.slice(1);
  let i = qualified.end;
  const code = name[i];
  if (code && INSTANCE_MEMBER.has(code) && scope.length > 0)
    return { kind: "method", scope: scope.join("@") };
  if (code !== "Y" || name[i + 1] !== "A") return undefined;
  i += 2;
  const pointer = name.slice(i, i + 4);
  if (pointer !== "PEAV" && pointer !== "PEAU") return undefined;
  const returned = readNames(name, i + 4, table);
  if (!returned || returned.names.length === 0 || name.slice(returned.end) !== "XZ") return undefined;
  return { kind: "getter", returns: returned.names.join("@") };
}

/** Names from i up to the closing `@` (back-references resolved), and the index past it. */
function readNames(s: string, i: number, table: string[]): { names: string[]; end: number } | undefined {
  const names: string[] = [];
  while (i < s.length && s[i] !== "@") {
    const ch = s[i]!;
    if (ch >= "0" && ch <= "9") {
      const ref = table[ch.charCodeAt(0) - 48];
      if (ref === undefined) return undefined;
      names.push(ref);
      i++;
      continue;
    }
    if (ch === "?") return undefined; // a template or special name
    const at = s.indexOf("@", i);
    if (at < 0) return undefined;
    const n = s.slice(i, at);
    names.push(n);
    if (table.length < 10 && !table.includes(n)) table.push(n);
    i = at + 1;
  }
  return i < s.length ? { names, end: i + 1 } : undefined;
}
