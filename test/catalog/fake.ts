// Constructed records and a tiny reader for catalog-engine tests that must not depend on the
// source parsers (those have their own real-data tests; see catalog-real.test.ts for both together).
import type { CatalogEvent, Field, SourceResult } from "../../src/catalog/model.js";
import type { SourceReader } from "../../src/catalog/sources.js";
import { FormatError } from "../../src/util/errors.js";

export function event(over: Partial<CatalogEvent> & { id: number; name: string }): CatalogEvent {
  return {
    kind: "manifest",
    provider: { name: "Test-Provider", guid: "11111111-2222-3333-4444-555555555555" },
    version: 0,
    keywords: { mask: "0x0", names: [] },
    fields: [],
    provenance: { file: "test.man", source: "manifest-xml" },
    ...over,
  };
}

export const f = (name: string, inType: string, extra: Partial<Field> = {}): Field => ({
  name,
  inType,
  ...extra,
});

/** Reads files that start with "FAKECAT\n" followed by a JSON SourceResult. */
export const fakeReader: SourceReader = {
  id: "fake",
  sniff: (bytes) => {
    const head = new TextDecoder().decode(bytes.subarray(0, 8));
    if (head === "FAKECAT\n") return "yes";
    if (head.startsWith("NOTCAT")) return { skip: "not a catalog file" };
    return "no";
  },
  read(input) {
    const text = new TextDecoder().decode(input.bytes.subarray(8));
    try {
      return JSON.parse(text) as SourceResult;
    } catch (err) {
      throw new FormatError("fake", `bad JSON: ${(err as Error).message}`);
    }
  },
};

export function fakeFile(result: SourceResult): string {
  return `FAKECAT\n${JSON.stringify(result)}`;
}
