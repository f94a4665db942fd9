/**
 * Object addresses in the value model (issue 16): `ptr` values, their substitution by callers'
 * arguments and normalisation, and the object locations a registration and a write meet at. The
 * end-to-end shapes (AxInstSv-, sysmain-, schedsvc-, rdpcorets-style) are in the recall_patterns
 * fixture (test/analysis/recall.test.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { normalize, objectLocation, offsetValue, substitute, type Value } from "../../src/analysis/values.js";

const G = 0x5000;
const heldByG: Value = { k: "load", base: { k: "addr", rva: G }, off: 0, size: 8 };

test("ptr: an offset from a parameter or a loaded pointer, folded and dropped at 0", () => {
  const p0: Value = { k: "param", n: 0 };
  // lea rbx,[rcx+4D8h]; lea r9,[rbx+20h]
  const handle = offsetValue(offsetValue(p0, 0x4d8), 0x20);
  assert.deepEqual(handle, { k: "ptr", base: p0, off: 0x4f8 });
  assert.deepEqual(offsetValue(handle, -0x4f8), p0);
  assert.deepEqual(offsetValue(heldByG, 472), { k: "ptr", base: heldByG, off: 472 });
  // Neither a stack slot nor a constant becomes a ptr.
  assert.equal(offsetValue({ k: "unknown", why: "x" }, 8).k, "unknown");
});

test("substitute + normalize: the caller's &Object turns the member into a global; a load through a ptr folds", () => {
  const member: Value = { k: "ptr", base: { k: "param", n: 0 }, off: 0x4f8 };
  const object: Value = { k: "addr", rva: 0x1b840 };
  assert.deepEqual(normalize(substitute(member, () => object)), { k: "addr", rva: 0x1b840 + 0x4f8 });
  // [param0 + 8] where param0 = &ctx->Trace (ptr(param0', 0x28)): one load at +0x30.
  const read: Value = { k: "load", base: { k: "param", n: 0 }, off: 8, size: 8 };
  const traceOfObject: Value = { k: "ptr", base: { k: "param", n: 0 }, off: 0x28 };
  assert.deepEqual(normalize(substitute(read, () => traceOfObject)), {
    k: "load",
    base: { k: "param", n: 0 },
    off: 0x30,
    size: 8,
  });
});

test("objectLocation: registration address and write handle of an object held by a global meet; other objects never", () => {
  // Registration: EventRegister(..., &obj->handle) with obj = [G]; write: EventWrite([obj+472], ...).
  const registered = objectLocation({ k: "ptr", base: heldByG, off: 472 });
  const written = objectLocation({ k: "ptr", base: heldByG, off: 472 });
  assert.ok(registered);
  assert.equal(registered, written);
  assert.notEqual(registered, objectLocation({ k: "ptr", base: heldByG, off: 480 }));
  // The handle as the block's first member: the address is [G] itself.
  assert.equal(objectLocation(heldByG), objectLocation({ k: "ptr", base: heldByG, off: 0 }));
  // Objects only a parameter or the stack names have no location: no match by offset alone.
  assert.equal(objectLocation({ k: "ptr", base: { k: "param", n: 0 }, off: 472 }), undefined);
  const viaParam: Value = { k: "load", base: { k: "param", n: 1 }, off: 0, size: 8 };
  assert.equal(objectLocation({ k: "ptr", base: viaParam, off: 472 }), undefined);
  assert.equal(objectLocation({ k: "addr", rva: G }), undefined);
});
