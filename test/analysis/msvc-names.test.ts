import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDecoratedName } from "../../src/analysis/msvc-names.js";

// Export names as vcamp140.dll (Windows 10 1607) has them.
test("decorated names: members, constructors and singleton getters", () => {
  assert.deepEqual(parseDecoratedName("?_Write_end_event@_Amp_runtime_trace@details@Concurrency@@QEAAXK@Z"), {
    kind: "method",
    scope: "_Amp_runtime_trace@details@Concurrency",
  });
  // A private member (A) is a method too; a static one (S) has no `this`.
  assert.equal(
    parseDecoratedName("?_Start_async_op_wait_event@_Amp_runtime_trace@details@Concurrency@@AEAAKK@Z")?.kind,
    "method",
  );
  assert.equal(
    parseDecoratedName(
      "?_Get_D3D_sampler@_D3D_interop@details@Concurrency@@SAPEAUIUnknown@@AEBVaccelerator_view@3@PEAV_Sampler@23@@Z",
    ),
    undefined,
  );
  // The getter's return type uses back-references 1 and 2 (details, Concurrency).
  assert.deepEqual(
    parseDecoratedName("?_Get_amp_trace@details@Concurrency@@YAPEAV_Amp_runtime_trace@12@XZ"),
    {
      kind: "getter",
      returns: "_Amp_runtime_trace@details@Concurrency",
    },
  );
  assert.deepEqual(parseDecoratedName("??0accelerator_view@Concurrency@@QEAA@AEBV01@@Z"), {
    kind: "constructor",
    scope: "accelerator_view@Concurrency",
  });
  // A global function with parameters is no getter; destructors, templates and C names are not parsed.
  assert.equal(
    parseDecoratedName("?_Is_D3D_accelerator_view@details@Concurrency@@YA_NAEBVaccelerator_view@2@@Z"),
    undefined,
  );
  assert.equal(parseDecoratedName("??1_Amp_runtime_trace@details@Concurrency@@QEAA@XZ"), undefined);
  assert.equal(parseDecoratedName("??$f@H@@YAXXZ"), undefined);
  assert.equal(parseDecoratedName("EventWrite"), undefined);
  // A back-reference to a name not yet seen, or a name left open, is refused.
  assert.equal(parseDecoratedName("?f@5@@QEAAXXZ"), undefined);
  assert.equal(parseDecoratedName("?f@Scope"), undefined);
});
