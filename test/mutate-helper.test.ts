import assert from "node:assert/strict";
import { test } from "node:test";
import { fuzz, mutant, prng } from "./helpers/mutate.js";

test("mutate helper: same seed and index give the same mutant; different ones differ", () => {
  const base = Uint8Array.from({ length: 4096 }, (_, i) => i & 0xff);
  const a = mutant(base, 7, 3);
  const b = mutant(base, 7, 3);
  assert.deepEqual(a, b);
  const differing = [0, 1, 2, 4, 5].filter((i) => mutant(base, 7, i).what !== a.what);
  assert.ok(differing.length >= 4);
  assert.equal(base[100], 100, "base must not be modified");
  const r = prng(1);
  const xs = Array.from({ length: 1000 }, r);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
});

test("mutate helper: hot ranges attract edits and fuzz reports unexpected errors", () => {
  const base = new Uint8Array(100000);
  let inHot = 0;
  let total = 0;
  for (let i = 0; i < 200; i++) {
    const m = mutant(base, 1, i, { hot: [{ start: 500, end: 600 }], truncateChance: 0 });
    for (let j = 0; j < m.bytes.length; j++) {
      if (m.bytes[j] !== 0) {
        total++;
        if (j >= 500 && j < 600) inHot++;
      }
    }
  }
  assert.ok(inHot > total / 2, `${inHot}/${total} changed bytes in the hot range`);
  const failures = fuzz({
    inputs: [{ name: "zeros", bytes: base.subarray(0, 64) }],
    count: 10,
    seed: 2,
    targets: {
      boom: () => {
        throw new TypeError("x");
      },
      fine: () => 1,
    },
    isExpected: (e) => e instanceof RangeError,
  });
  assert.equal(failures.length, 10);
  assert.ok(failures.every((f) => f.target === "boom" && f.error.startsWith("TypeError")));
});
