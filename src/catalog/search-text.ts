/**
 * The full-text query language of `events --text` and the explorer's search — one definition,
 * used by both evaluations in search.ts (search index and plain SQL) and by the page's highlighter.
 *
 * An event's text is its provider name, event name, field names, keyword names and message, split
 * at whitespace into lower-case tokens. A query is a list of terms that must all match (AND):
 *
 *   pipe          a word: a substring of some token (case-insensitive)
 *   proc*         a pattern: `*` / `?` wildcards over a whole token (here: a token starting "proc")
 *   "named pipe"  a phrase: the words in this order, adjacent in one text column — separated by
 *                 whitespace, `_`, `-`, `.` or nothing, so it also finds NamedPipe and Named_Pipe
 *   a OR b        either term (OR binds tighter than the implicit AND: `x a OR b` = x AND (a OR b))
 *   NOT a, -a     the event must not match the term
 *
 * Anything else with a meaning elsewhere (NEAR, parentheses, AND) is refused with a message that
 * says what is supported, rather than searched for as words.
 */

/** Longest query text accepted (characters). */
export const MAX_TEXT_LENGTH = 1000;
/** Most terms accepted in one query. */
export const MAX_TERMS = 32;

export type TextTermKind = "word" | "pattern" | "phrase";

export interface TextTerm {
  kind: TextTermKind;
  /** Lower-case: the word, the pattern (with its wildcards), or the phrase's words joined by one space. */
  value: string;
}

/** One AND-ed clause: any of its terms matches (OR); `negated` turns the clause into NOT. */
export interface TextClause {
  terms: TextTerm[];
  negated: boolean;
}

export const TEXT_SYNTAX_HELP =
  'supported: words (substring), word* (wildcards * ?), "a phrase", a OR b, NOT a or -a; all terms must match';

/** A query the search refuses (too costly or malformed); the web API answers it with 400. */
export class InvalidQuery extends Error {}

/** Thrown for a query the language does not accept; the message says why and what is supported. */
export class TextQueryError extends InvalidQuery {}

/** Parses a full-text query; throws TextQueryError for unsupported syntax or oversized queries. */
export function parseTextQuery(text: string): TextClause[] {
  if (text.length > MAX_TEXT_LENGTH)
    throw new TextQueryError(
      `full-text query is ${text.length} characters long; at most ${MAX_TEXT_LENGTH} are accepted`,
    );
  type Token = { text: string; quoted: boolean };
  const tokens: Token[] = [];
  const re = /"([^"]*)"?|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[1] !== undefined) {
      if (!m[0].endsWith('"') || m[0].length < 2)
        throw new TextQueryError(`unclosed quote in ${JSON.stringify(text)}; ${TEXT_SYNTAX_HELP}`);
      const phrase = m[1].trim().split(/\s+/).filter(Boolean).join(" ");
      if (phrase) tokens.push({ text: phrase, quoted: true });
    } else tokens.push({ text: m[2]!, quoted: false });
  }
  const clauses: TextClause[] = [];
  let negateNext = false;
  let orPending = false;
  const distinct = new Set<string>();
  for (const t of tokens) {
    if (!t.quoted) {
      if (t.text === "OR") {
        if (!clauses.length || negateNext || orPending)
          throw new TextQueryError(`OR needs a term on each side; ${TEXT_SYNTAX_HELP}`);
        orPending = true;
        continue;
      }
      if (t.text === "NOT") {
        negateNext = true;
        continue;
      }
      if (t.text === "AND" || t.text === "NEAR" || /^NEAR\//.test(t.text) || /[()]/.test(t.text))
        throw new TextQueryError(`${JSON.stringify(t.text)} is not supported; ${TEXT_SYNTAX_HELP}`);
    }
    let raw = t.text;
    let negated = negateNext;
    if (!t.quoted && raw.length > 1 && raw.startsWith("-")) {
      negated = true;
      raw = raw.slice(1);
    }
    negateNext = false;
    const value = raw.toLowerCase();
    const term: TextTerm = t.quoted
      ? { kind: value.includes(" ") ? "phrase" : "word", value }
      : { kind: /[*?]/.test(value) ? "pattern" : "word", value };
    if (term.kind === "pattern" && /^[*?]+$/.test(value))
      throw new TextQueryError(`${JSON.stringify(raw)} matches everything; give at least one letter`);
    distinct.add(`${term.kind}:${term.value}`);
    if (distinct.size > MAX_TERMS)
      throw new TextQueryError(
        `full-text query has more than ${MAX_TERMS} distinct terms (at most ${MAX_TERMS} are searched at once); narrow it with other filters`,
      );
    const last = clauses[clauses.length - 1];
    if (orPending && last) {
      if (negated !== last.negated)
        throw new TextQueryError(`NOT inside an OR is not supported; ${TEXT_SYNTAX_HELP}`);
      last.terms.push(term);
      orPending = false;
    } else clauses.push({ terms: [term], negated });
  }
  if (orPending || negateNext)
    throw new TextQueryError(`the query ends with an operator; ${TEXT_SYNTAX_HELP}`);
  if (clauses.length && clauses.every((c) => c.negated))
    throw new TextQueryError("a query of only NOT terms would list almost everything; add a term to find");
  return clauses;
}

/** Anchored, case-insensitive regular expression of a token pattern. */
export function patternRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "s");
}

/** Phrase as a regular expression over a text column: words in order, adjacent (see above). */
export function phraseRegExp(phrase: string): RegExp {
  const words = phrase.split(" ").map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(words.join("[\\s_.-]*"), "iu");
}

/** Does one token (already lower-case) satisfy a word or pattern term? */
export function tokenMatches(term: TextTerm, token: string, re?: RegExp): boolean {
  if (term.kind === "word") return token.includes(term.value);
  return (re ?? patternRegExp(term.value)).test(token);
}

/** Tokens of an event's text columns (the index stores exactly these). */
export function textTokens(column: string): string[] {
  return column
    .toLowerCase()
    .split(/\s+/)
    .filter((t) => t);
}

/**
 * Whether an event's text columns satisfy the parsed query — the reference evaluation (used by
 * plain-SQL search and for phrases over index candidates).
 */
export function textMatches(clauses: TextClause[], columns: Array<string | null>): boolean {
  const tokens = columns.flatMap((c) => (c ? textTokens(c) : []));
  const termHit = (t: TextTerm) =>
    t.kind === "phrase"
      ? columns.some((c) => c !== null && phraseRegExp(t.value).test(c))
      : tokens.some((tok) => tokenMatches(t, tok));
  return clauses.every((c) => c.terms.some(termHit) !== c.negated);
}

/** Words a page should highlight for this query (positive terms only; wildcards dropped). */
export function highlightTerms(clauses: TextClause[]): string[] {
  const out = new Set<string>();
  for (const c of clauses)
    if (!c.negated)
      for (const t of c.terms)
        for (const part of t.value.split(/[*?]/)) if (part.trim()) out.add(part.trim());
  return [...out];
}
