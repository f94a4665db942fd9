/* Kernel driver whose ETW writes are each guarded in a known way, for the guard-condition analysis
   (src/analysis/conditions/). Built at -O2 (see build.sh). The provider is written the way mc.exe's
   generated header does it: an MCGEN_TRACE_CONTEXT passed as the enable callback's context, with an
   EnableBits array and the keyword / level of each bit; EventEnabled<Event>() tests one bit.
   Expected conditions per write, by hand: conditions.expected.json next to this file. */
#include <ntddk.h>

/* {7c1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5} */
const GUID CondProviderGuid = {0x7c1d2e3f, 0x4a5b, 0x4c6d, {0x8e, 0x9f, 0xa0, 0xb1, 0xc2, 0xd3, 0xe4, 0xf5}};

/* mc.exe's MCGEN_TRACE_CONTEXT (x64 layout). */
typedef struct _MCGEN_TRACE_CONTEXT {
  ULONGLONG RegistrationHandle;
  ULONGLONG Logger;
  ULONGLONG MatchAnyKeyword;
  ULONGLONG MatchAllKeyword;
  ULONG Flags;
  ULONG IsEnabled;
  UCHAR Level;
  UCHAR Reserve;
  USHORT EnableBitsCount;
  PULONG EnableBitMask;
  const ULONGLONG *EnableKeyWords;
  const UCHAR *EnableLevel;
} MCGEN_TRACE_CONTEXT;

/* Bit i is set while a session enables keyword CondKeywords[i] at level CondLevels[i]. */
volatile ULONG CondEnableBits[1];
const ULONGLONG CondKeywords[5] = {0x40, 0x80, 0x100, 0x200, 0x400};
const UCHAR CondLevels[5] = {4, 2, 4, 5, 3};
MCGEN_TRACE_CONTEXT CondContext = {0, 0, 0, 0, 0, 0, 0, 0, 5, (PULONG)CondEnableBits, CondKeywords, CondLevels};
REGHANDLE CondHandle;

#define EventEnabledBit(b) ((CondEnableBits[0] & (1u << (b))) != 0)

const EVENT_DESCRIPTOR COND_KEYWORD = {1, 0, 0x10, 4, 0, 1, 0x40};
const EVENT_DESCRIPTOR COND_FAILURE = {2, 0, 0x10, 2, 0, 2, 0x80};
const EVENT_DESCRIPTOR COND_SUCCESS = {3, 0, 0x10, 4, 0, 3, 0x100};
const EVENT_DESCRIPTOR COND_BOTH = {4, 0, 0x10, 4, 0, 4, 0x100};
const EVENT_DESCRIPTOR COND_FEATURE = {5, 0, 0x10, 5, 0, 5, 0x200};
const EVENT_DESCRIPTOR COND_WIL = {6, 0, 0x10, 5, 0, 6, 0x200};
const EVENT_DESCRIPTOR COND_NESTED = {7, 0, 0x10, 2, 0, 7, 0x80};
const EVENT_DESCRIPTOR COND_LOOP = {8, 0, 0x10, 3, 0, 8, 0x400};
const EVENT_DESCRIPTOR COND_SWITCH = {9, 0, 0x10, 3, 0, 9, 0x400};
/* Tested with bit 0 (keyword 0x40, level 4) although the event is keyword 0x80 level 2: a
   disagreement the analysis must report as such. */
const EVENT_DESCRIPTOR COND_WRONG_BIT = {10, 0, 0x10, 2, 0, 10, 0x80};
const EVENT_DESCRIPTOR COND_FLAG_START = {11, 0, 0x10, 3, 1, 11, 0x400};
const EVENT_DESCRIPTOR COND_FLAG_STOP = {12, 0, 0x10, 3, 2, 11, 0x400};
const EVENT_DESCRIPTOR COND_FLAG_OTHER = {13, 0, 0x10, 3, 2, 12, 0x400};
const EVENT_DESCRIPTOR COND_FLAG_TAKEN = {14, 0, 0x10, 3, 2, 13, 0x400};
const EVENT_DESCRIPTOR COND_FLAG_LOCAL = {15, 0, 0x10, 2, 0, 14, 0x80};
const EVENT_DESCRIPTOR COND_FLAG_UNKNOWN = {16, 0, 0x10, 2, 0, 15, 0x80};
const EVENT_DESCRIPTOR COND_FLAG_REG = {17, 0, 0x10, 5, 0, 16, 0x200};

/* A global flag set from configuration, and a WIL-style feature state. */
volatile ULONG CondConfigFlags;
volatile ULONG CondFeatureState;
volatile ULONG CondSink;

__declspec(noinline) BOOLEAN Feature_CondFancy__private_IsEnabledDeviceUsage(VOID) {
  return (CondFeatureState & 4) != 0;
}

__declspec(noinline) NTSTATUS CondCheck(ULONG value) {
  CondSink = value;
  return value & 1 ? STATUS_ACCESS_DENIED : STATUS_SUCCESS;
}

__declspec(noinline) VOID CondWrite(PCEVENT_DESCRIPTOR descriptor, ULONG value) {
  EVENT_DATA_DESCRIPTOR data;
  EventDataDescCreate(&data, &value, sizeof value);
  EtwWrite(CondHandle, descriptor, NULL, 1, &data);
}

/* enabled only: keyword 0x40 at level 4. */
__declspec(dllexport) VOID NtCondKeyword(ULONG value) {
  if (EventEnabledBit(0)) EtwWrite(CondHandle, &COND_KEYWORD, NULL, 0, NULL);
  CondSink = value;
}

/* Written only when ObReferenceObjectByHandle fails. */
__declspec(dllexport) NTSTATUS NtCondFailure(HANDLE handle) {
  PVOID object;
  NTSTATUS status = ObReferenceObjectByHandle(handle, 0, NULL, KernelMode, &object, NULL);
  if (!NT_SUCCESS(status)) {
    if (EventEnabledBit(1)) EtwWrite(CondHandle, &COND_FAILURE, NULL, 0, NULL);
    return status;
  }
  ObDereferenceObject(object);
  return STATUS_SUCCESS;
}

/* Written only when PsLookupProcessByProcessId succeeds. */
__declspec(dllexport) NTSTATUS NtCondSuccess(HANDLE pid) {
  PEPROCESS process;
  NTSTATUS status = PsLookupProcessByProcessId(pid, &process);
  if (NT_SUCCESS(status)) {
    if (EventEnabledBit(2)) EtwWrite(CondHandle, &COND_SUCCESS, NULL, 0, NULL);
    ObDereferenceObject(process);
  }
  return status;
}

/* Written whatever ZwClose returns (the status is the payload). */
__declspec(dllexport) NTSTATUS NtCondBoth(HANDLE handle) {
  NTSTATUS status = ZwClose(handle);
  if (EventEnabledBit(2)) CondWrite(&COND_BOTH, (ULONG)status);
  return status;
}

/* A global flag from configuration guards the write. */
__declspec(dllexport) VOID NtCondFeature(ULONG value) {
  if (CondConfigFlags & 0x10) {
    if (EventEnabledBit(3)) EtwWrite(CondHandle, &COND_FEATURE, NULL, 0, NULL);
  }
  CondSink = value;
}

/* A WIL feature test (a function named like WIL's) guards the write. */
__declspec(dllexport) VOID NtCondWil(ULONG value) {
  if (Feature_CondFancy__private_IsEnabledDeviceUsage() && EventEnabledBit(3))
    EtwWrite(CondHandle, &COND_WIL, NULL, 0, NULL);
  CondSink = value;
}

/* Nested guards across two functions: the caller tests the value, the callee a call's failure. */
__declspec(noinline) VOID CondNestedInner(ULONG value) {
  if (!NT_SUCCESS(CondCheck(value))) {
    if (EventEnabledBit(1)) EtwWrite(CondHandle, &COND_NESTED, NULL, 0, NULL);
  }
}

__declspec(dllexport) VOID NtCondNested(ULONG value) {
  if (value > 10) CondNestedInner(value);
  CondSink = value;
}

/* A write inside a loop (through the CondWrite helper: a direct EtwWrite in the loop is called
   through a register loaded from the IAT before the loop, which the call graph does not follow):
   the loop's own test is no guard of its own. */
__declspec(dllexport) VOID NtCondLoop(ULONG count) {
  for (ULONG i = 0; i < count; i++) {
    CondSink = i;
    if (EventEnabledBit(4)) CondWrite(&COND_LOOP, i);
  }
}

/* A write in one case of a switch compiled to a jump table. */
__declspec(dllexport) ULONG NtCondSwitch(ULONG code) {
  switch (code) {
  case 0:
    CondSink = 10;
    return 3;
  case 1:
    CondSink = 20;
    return 7;
  case 2:
    CondSink += 30;
    return 11;
  case 3:
    if (EventEnabledBit(4)) EtwWrite(CondHandle, &COND_SWITCH, NULL, 0, NULL);
    return 13;
  case 4:
    CondSink ^= 50;
    return 17;
  case 5:
    CondSink -= 60;
    return 19;
  case 6:
    CondSink |= 70;
    return 23;
  default:
    return 0;
  }
}

/* An enable test for another event's bit. */
__declspec(dllexport) VOID NtCondWrongBit(ULONG value) {
  if (EventEnabledBit(0)) EtwWrite(CondHandle, &COND_WRONG_BIT, NULL, 0, NULL);
  CondSink = value;
}

/* An enable test kept in a flag: the start path tests the bit once and marks the activity; the
   stop routine, handed the activity, tests only the mark (the start/stop pattern of d3d11). */
typedef struct _COND_ACTIVITY {
  BOOLEAN Enabled;
  ULONG Value;
} COND_ACTIVITY;

__declspec(noinline) VOID CondActivityStop(COND_ACTIVITY *activity) {
  if (activity->Enabled) CondWrite(&COND_FLAG_STOP, activity->Value);
}

__declspec(dllexport) VOID NtCondFlag(ULONG value) {
  COND_ACTIVITY activity;
  activity.Enabled = FALSE;
  activity.Value = value;
  if (EventEnabledBit(4)) {
    activity.Enabled = TRUE;
    EtwWrite(CondHandle, &COND_FLAG_START, NULL, 0, NULL);
  }
  CondSink = value;
  CondActivityStop(&activity);
}

/* The same shape with the mark set from the caller's argument, not from an enable test: the
   stop's test stays unclassified (a flag is an enable test only when its stores say so). */
__declspec(noinline) VOID CondOtherStop(COND_ACTIVITY *activity) {
  if (activity->Enabled) CondWrite(&COND_FLAG_OTHER, activity->Value + 1);
}

__declspec(dllexport) VOID NtCondFlagOther(ULONG value) {
  COND_ACTIVITY activity;
  activity.Enabled = (value & 2) != 0;
  activity.Value = value;
  CondSink = value;
  CondOtherStop(&activity);
}

/* The start/stop shape again, but the stop routine's address is also stored in a global: it may be
   called through the pointer with an activity no enable test marked, so its test stays
   unclassified although its only direct caller sets the mark under bit 4. */
__declspec(noinline) VOID CondTakenStop(COND_ACTIVITY *activity) {
  if (activity->Enabled) CondWrite(&COND_FLAG_TAKEN, activity->Value + 2);
}

VOID (*CondStopHook)(COND_ACTIVITY *) = CondTakenStop;

__declspec(dllexport) VOID NtCondFlagTaken(ULONG value) {
  COND_ACTIVITY activity;
  activity.Enabled = FALSE;
  activity.Value = value;
  if (EventEnabledBit(4)) {
    activity.Enabled = TRUE;
    EtwWrite(CondHandle, &COND_FLAG_START, NULL, 0, NULL);
  }
  CondSink = value;
  CondTakenStop(&activity);
}

/* A flag kept in a stack byte of the same function, read back through a register (`mov al,
   [rsp+48]; test al, al`). Written in assembly: clang keeps such a flag in a register or threads
   the jump away. Bit 1 is keyword 0x80 at level 2. */
__attribute__((naked)) __declspec(dllexport) VOID NtCondFlagLocal(ULONG value) {
  __asm__("subq $56, %rsp\n"
          "movb $0, 48(%rsp)\n"
          "testl $2, CondEnableBits(%rip)\n"
          "je 1f\n"
          "movb $1, 48(%rsp)\n"
          "1:\n"
          "movl %ecx, CondSink(%rip)\n"
          "movb 48(%rsp), %al\n"
          "testb %al, %al\n"
          "je 2f\n"
          "movq CondHandle(%rip), %rcx\n"
          "leaq COND_FLAG_LOCAL(%rip), %rdx\n"
          "xorl %r8d, %r8d\n"
          "xorl %r9d, %r9d\n"
          "movq $0, 32(%rsp)\n"
          "callq *__imp_EtwWrite(%rip)\n"
          "2:\n"
          "addq $56, %rsp\n"
          "retq\n");
}

/* The same, but the enabled path stores the caller's argument (not a constant): no flag. */
__attribute__((naked)) __declspec(dllexport) VOID NtCondFlagUnknown(ULONG value) {
  __asm__("subq $56, %rsp\n"
          "movb $0, 48(%rsp)\n"
          "testl $2, CondEnableBits(%rip)\n"
          "je 1f\n"
          "movb %cl, 48(%rsp)\n"
          "1:\n"
          "cmpb $0, 48(%rsp)\n"
          "je 2f\n"
          "movq CondHandle(%rip), %rcx\n"
          "leaq COND_FLAG_UNKNOWN(%rip), %rdx\n"
          "xorl %r8d, %r8d\n"
          "xorl %r9d, %r9d\n"
          "movq $0, 32(%rsp)\n"
          "callq *__imp_EtwWrite(%rip)\n"
          "2:\n"
          "addq $56, %rsp\n"
          "retq\n");
}

/* The flag kept in a register (mc's inlined enable check: `mov al, 1` on the enabled path, `xor
   eax, eax` on the other, then `test al, al`). Bit 3 is keyword 0x200 at level 5. */
__attribute__((naked)) __declspec(dllexport) VOID NtCondFlagRegister(ULONG value) {
  __asm__("subq $56, %rsp\n"
          "testl $8, CondEnableBits(%rip)\n"
          "je 1f\n"
          "movb $1, %al\n"
          "jmp 2f\n"
          "1:\n"
          "xorl %eax, %eax\n"
          "2:\n"
          "movl %ecx, CondSink(%rip)\n"
          "testb %al, %al\n"
          "je 3f\n"
          "movq CondHandle(%rip), %rcx\n"
          "leaq COND_FLAG_REG(%rip), %rdx\n"
          "xorl %r8d, %r8d\n"
          "xorl %r9d, %r9d\n"
          "movq $0, 32(%rsp)\n"
          "callq *__imp_EtwWrite(%rip)\n"
          "3:\n"
          "addq $56, %rsp\n"
          "retq\n");
}

VOID McGenControlCallback(LPCGUID source, ULONG control, UCHAR level, ULONGLONG any, ULONGLONG all, PEVENT_FILTER_DESCRIPTOR filter,
                          PVOID context) {
  MCGEN_TRACE_CONTEXT *ctx = context;
  UNREFERENCED_PARAMETER(source);
  UNREFERENCED_PARAMETER(all);
  UNREFERENCED_PARAMETER(filter);
  ctx->Level = level;
  ctx->MatchAnyKeyword = any;
  ctx->IsEnabled = control;
  for (USHORT i = 0; i < ctx->EnableBitsCount; i++) {
    if ((ctx->EnableKeyWords[i] & any) && ctx->EnableLevel[i] <= level)
      ctx->EnableBitMask[i >> 5] |= 1u << (i & 31);
    else
      ctx->EnableBitMask[i >> 5] &= ~(1u << (i & 31));
  }
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath) {
  UNREFERENCED_PARAMETER(driver);
  UNREFERENCED_PARAMETER(registryPath);
  return EtwRegister(&CondProviderGuid, McGenControlCallback, &CondContext, &CondHandle);
}
