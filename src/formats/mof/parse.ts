import { FormatError } from "../../util/errors.js";
import { type Token, tokenize } from "./lexer.js";

export type MofValue = string | number | boolean | null | MofValue[];

/** Qualifiers keyed by lower-case name (MOF names are case-insensitive). */
export type Qualifiers = Map<string, MofValue>;

export interface MofProperty {
  name: string;
  /** MOF type as written ("uint32", "string", "object", a class name for embedded objects). */
  type: string;
  qualifiers: Qualifiers;
  /** `X[n]` gives n, `X[]` gives 0 (size from WmiSizeIs / MAX). */
  arraySize?: number;
  line: number;
}

export interface MofClass {
  name: string;
  superclass?: string;
  qualifiers: Qualifiers;
  properties: MofProperty[];
  line: number;
}

export interface MofDocument {
  classes: MofClass[];
  pragmas: string[];
  /** `instance of` blocks skipped. */
  instancesSkipped: number;
}

/** Hard cap on nesting so hostile input cannot recurse deeply. */
const MAX_DEPTH = 64;

class Parser {
  private i = 0;
  constructor(private readonly t: Token[]) {}

  private peek(o = 0): Token | undefined {
    return this.t[this.i + o];
  }
  private fail(what: string, tok = this.peek()): never {
    const where = tok ? `line ${tok.line} near ${JSON.stringify(tok.text)}` : "end of file";
    throw new FormatError("mof", `${what} (${where})`);
  }
  private next(): Token {
    const tok = this.t[this.i++];
    if (!tok) this.fail("unexpected end of file");
    return tok;
  }
  private isPunct(p: string, o = 0): boolean {
    const tok = this.peek(o);
    return tok?.kind === "punct" && tok.text === p;
  }
  private expectPunct(p: string): void {
    if (!this.isPunct(p)) this.fail(`expected "${p}"`);
    this.i++;
  }
  private isIdent(word: string, o = 0): boolean {
    const tok = this.peek(o);
    return tok?.kind === "ident" && tok.text.toLowerCase() === word;
  }
  private ident(): string {
    const tok = this.next();
    if (tok.kind !== "ident") this.fail("expected a name", tok);
    return tok.text;
  }

  document(): MofDocument {
    const doc: MofDocument = { classes: [], pragmas: [], instancesSkipped: 0 };
    while (this.peek()) {
      const tok = this.peek()!;
      if (tok.kind === "pragma") {
        doc.pragmas.push(tok.text);
        this.i++;
        continue;
      }
      if (this.isPunct(";")) {
        this.i++;
        continue;
      }
      const qualifiers = this.isPunct("[") ? this.qualifierList() : new Map<string, MofValue>();
      if (this.isIdent("class")) doc.classes.push(this.classDecl(qualifiers));
      else if (this.isIdent("instance")) {
        this.skipInstance();
        doc.instancesSkipped++;
      } else if (this.isIdent("qualifier") || this.isIdent("typedef") || this.isIdent("association")) {
        this.skipStatement();
      } else this.fail("expected class, instance or qualifier declaration");
    }
    return doc;
  }

  /** `[Name, Name(value), Name{v, v} : flavor flavor, ...]` */
  private qualifierList(): Qualifiers {
    const q: Qualifiers = new Map();
    this.expectPunct("[");
    while (!this.isPunct("]")) {
      const name = this.ident();
      let value: MofValue = true;
      if (this.isPunct("(")) {
        this.i++;
        value = this.isPunct(")") ? true : this.value(0);
        this.expectPunct(")");
      } else if (this.isPunct("{")) {
        value = this.arrayValue(0);
      }
      // Flavors: ": amended ToSubclass" — names only, no meaning for the catalog.
      if (this.isPunct(":")) {
        this.i++;
        while (this.peek()?.kind === "ident") this.i++;
      }
      q.set(name.toLowerCase(), value);
      if (this.isPunct(",")) this.i++;
      else if (!this.isPunct("]")) this.fail('expected "," or "]" in qualifier list');
    }
    this.expectPunct("]");
    return q;
  }

  private arrayValue(depth: number): MofValue[] {
    if (depth > MAX_DEPTH) this.fail("values nested too deeply");
    this.expectPunct("{");
    const out: MofValue[] = [];
    while (!this.isPunct("}")) {
      out.push(this.value(depth + 1));
      if (this.isPunct(",")) this.i++;
      else if (!this.isPunct("}")) this.fail('expected "," or "}" in array value');
    }
    this.expectPunct("}");
    return out;
  }

  private value(depth: number): MofValue {
    const tok = this.peek();
    if (!tok) this.fail("expected a value");
    if (tok.kind === "punct" && tok.text === "{") return this.arrayValue(depth);
    if (tok.kind === "string") {
      let s = "";
      while (this.peek()?.kind === "string") s += this.next().text; // "a" "b" concatenates
      return s;
    }
    if (tok.kind === "punct" && (tok.text === "-" || tok.text === "+")) {
      this.i++;
      const num = this.next();
      if (num.kind !== "number") this.fail("expected a number after sign", num);
      const v = Number(num.text);
      return tok.text === "-" ? -v : v;
    }
    if (tok.kind === "number") {
      this.i++;
      return Number(tok.text);
    }
    if (tok.kind === "ident") {
      this.i++;
      const w = tok.text.toLowerCase();
      if (w === "true") return true;
      if (w === "false") return false;
      if (w === "null") return null;
      return tok.text;
    }
    if (tok.kind === "alias") {
      this.i++;
      return tok.text;
    }
    return this.fail("expected a value");
  }

  private classDecl(qualifiers: Qualifiers): MofClass {
    const line = this.next().line; // "class"
    const name = this.ident();
    const cls: MofClass = { name, qualifiers, properties: [], line };
    if (this.isPunct(":")) {
      this.i++;
      cls.superclass = this.ident();
    }
    this.expectPunct("{");
    while (!this.isPunct("}")) {
      if (!this.peek()) this.fail(`class ${name}: missing "}"`);
      const q = this.isPunct("[") ? this.qualifierList() : new Map<string, MofValue>();
      const prop = this.member(q);
      if (prop) cls.properties.push(prop);
    }
    this.expectPunct("}");
    if (this.isPunct(";")) this.i++;
    return cls;
  }

  /** A property `type [ref] name [n] [= value];`, or a method (skipped, returns undefined). */
  private member(qualifiers: Qualifiers): MofProperty | undefined {
    const words: Token[] = [];
    while (this.peek()?.kind === "ident") words.push(this.next());
    if (words.length < 2) this.fail("expected a property type and name");
    const nameTok = words[words.length - 1]!;
    const type = words
      .slice(0, -1)
      .map((w) => w.text)
      .join(" ");
    if (this.isPunct("(")) {
      this.skipBalanced("(", ")");
      this.expectPunct(";");
      return undefined;
    }
    const prop: MofProperty = { name: nameTok.text, type, qualifiers, line: nameTok.line };
    if (this.isPunct("[")) {
      this.i++;
      if (this.peek()?.kind === "number") prop.arraySize = Number(this.next().text);
      else prop.arraySize = 0;
      this.expectPunct("]");
    }
    if (this.isPunct("=")) {
      this.i++;
      this.value(0);
    }
    this.expectPunct(";");
    return prop;
  }

  private skipBalanced(open: string, close: string): void {
    let depth = 0;
    do {
      const tok = this.next();
      if (tok.kind === "punct" && tok.text === open) depth++;
      else if (tok.kind === "punct" && tok.text === close) depth--;
    } while (depth > 0);
  }

  /** `instance of Class [as $alias] { ... };` */
  private skipInstance(): void {
    while (!this.isPunct("{")) this.next();
    this.skipBalanced("{", "}");
    if (this.isPunct(";")) this.i++;
  }

  private skipStatement(): void {
    let depth = 0;
    for (;;) {
      const tok = this.next();
      if (tok.kind !== "punct") continue;
      if (tok.text === "{" || tok.text === "(") depth++;
      else if (tok.text === "}" || tok.text === ")") depth--;
      else if (tok.text === ";" && depth <= 0) return;
    }
  }
}

/** Parses text MOF into class declarations (instances and qualifier declarations are skipped). */
export function parseMofText(text: string): MofDocument {
  return new Parser(tokenize(text)).document();
}

/** Qualifier lookup helpers. */
export function qString(q: Qualifiers, name: string): string | undefined {
  const v = q.get(name.toLowerCase());
  return typeof v === "string" ? v : undefined;
}

export function qNumber(q: Qualifiers, name: string): number | undefined {
  const v = q.get(name.toLowerCase());
  if (typeof v === "number") return v;
  if (typeof v === "string" && /^(0x[0-9a-f]+|\d+)$/i.test(v)) return Number(v);
  return undefined;
}

/** A qualifier that may be a single value or an array, as an array. */
export function qList(q: Qualifiers, name: string): MofValue[] {
  const v = q.get(name.toLowerCase());
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}
