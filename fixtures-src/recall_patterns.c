/*
 * Write and registration patterns of service, COM and UI DLLs (issue 16), for the recall work of the
 * analysis. Expected rows are written by hand in recall_patterns.expected.json; its "wevt" list is
 * also the source of the image's WEVT_TEMPLATE (make-crim.mjs), so table extents can be checked
 * against the image's own events.
 *
 *  1. Registration through a shared wrapper (McGenEventRegister) called for two providers, the
 *     handle of one inside a trace-context struct (&Context.RegHandle = base + 8), and a handle
 *     registered into a local then published with `lock cmpxchg` (qwave.dll's shape).
 *  2. Classic writes: RegisterTraceGuidsW with a TRACE_GUID_REGISTRATION array, TraceEvent with the
 *     EVENT_TRACE_HEADER built on the stack (class GUID inline, and by pointer).
 *  3. EventWrite resolved at run time with GetProcAddress and called through a global.
 *  4. Descriptors picked from tables: a constant index through a helper, a run-time index.
 *  5. Handles inside objects: a service object's method registers into this + offset (a trace
 *     context member, AxInstSv.dll's shape) and the object is a global; an object held by a global
 *     pointer registered into [[G] + offset] (sysmain.dll); and an object only a caller knows (an
 *     export's parameter), whose write must stay without provider (no match by offset alone).
 *     A handle that is the first member of a heap block published in a global before its
 *     registration (schedsvc.dll: the handle's address is [G] itself).
 *     A handle registered into a local and published far later, after calls, branches and an early
 *     return (ci.dll: `xchg [G], rax` 200 instructions after EtwRegister).
 *     A singleton: a heap object constructed (the constructor registers into this + 8), then stored
 *     in a global, and written through the instance getter's result (auditcse.dll); a constructor
 *     returning `this` whose result is what the global receives (qmgr.dll; naked assembly, as
 *     clang would keep the object in its own register).
 *     A handle global nothing writes (samsrv.dll's audit library: the writes exist, the registration
 *     was never linked in): the site has no provider, and the miss says why.
 *  6. A stack argument stored through a copy of RSP (MSVC's `mov r11, rsp` frames, rdpcorets.dll),
 *     written as naked assembly since clang does not emit that frame.
 *  7. Descriptors and GUIDs the code fills at run time: a GUID copied into a global before it is
 *     registered, descriptor pointer slots (static records, slots set at start-up), descriptor
 *     members of stack objects set by constructors, per-level descriptors copied onto the stack
 *     at one write, a GUID copied from the caller's pointer; and what must not match.
 *  8. Handles in objects a parameter points to: a helper copies its local handle into the object and
 *     its caller writes the member (same function's parameter); a C++-style class whose constructor
 *     installs the vtable and registers, written by a method reached only through the vtable (and
 *     a second class of the same layout that registers nothing); a logger block stored into a
 *     holder a global publishes (null included), registered through a copy of its pointer; two
 *     providers registered through member pointers by helpers and written from one caller; a stack
 *     activity object whose constructor stores the handle global's address, written through it; a
 *     handle read through a data import (another module's: no provider, counted apart).
 *  9. A singleton handed out by InitOnceExecuteOnce's Context from a getter that checks its /GS
 *     cookie, its handle block published by the registering function; a global's logger copied
 *     through a frame-pointer function's stack config into a decoder field; exported members of
 *     a class typed by their decorated names, the class's getter returning its one instance.
 */
#include <windows.h>
#include <evntprov.h>
#include <evntrace.h>
#include <wmistr.h>

BOOL WINAPI DllMain(HINSTANCE h, DWORD reason, LPVOID reserved) {
  (void)h;
  (void)reason;
  (void)reserved;
  return TRUE;
}

/* ---- 1. registration wrapper, context member, cmpxchg publication ---- */
static const GUID ProviderA = {0x5e1a0001, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const GUID ProviderB = {0x5e1a0002, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const GUID ProviderC = {0x5e1a0003, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};

/* mc.exe-style trace context: the REGHANDLE is a member at +8. */
typedef struct {
  ULONG Flags;
  ULONG Level;
  REGHANDLE RegHandle;
} TRACE_CONTEXT;

TRACE_CONTEXT ContextA;
REGHANDLE HandleB;
REGHANDLE HandleC;

__declspec(noinline) ULONG McGenEventRegister(LPCGUID guid, PENABLECALLBACK cb, PVOID context, PREGHANDLE handle) {
  if (*handle != 0) return 0;
  return EventRegister(guid, cb, context, handle);
}

__declspec(dllexport) void RegisterProviders(void) {
  McGenEventRegister(&ProviderA, 0, &ContextA, &ContextA.RegHandle);
  McGenEventRegister(&ProviderC, 0, 0, &HandleC);
  REGHANDLE local = 0;
  if (EventRegister(&ProviderB, 0, 0, &local) == 0 &&
      InterlockedCompareExchange64((volatile LONG64 *)&HandleB, (LONG64)local, 0) != 0)
    EventUnregister(local);
}

static const EVENT_DESCRIPTOR AStart = {1, 0, 0x10, 4, 1, 1, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR BPublished = {3, 1, 0x10, 4, 0, 2, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR CInfo = {5, 0, 0x10, 4, 0, 3, 0x8000000000000000ULL};

__declspec(dllexport) void WriteAStart(void) { EventWrite(ContextA.RegHandle, &AStart, 0, 0); }
__declspec(dllexport) void WriteBPublished(void) { EventWrite(HandleB, &BPublished, 0, 0); }
__declspec(dllexport) void WriteCInfo(void) { EventWrite(HandleC, &CInfo, 0, 0); }

/* ---- 2. classic (MOF) writes ---- */
static const GUID ClassicControl = {0x5e1a00c0, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const GUID ClassicClass = {0x5e1a00c1, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const GUID ClassicOther = {0x5e1a00c2, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static TRACE_GUID_REGISTRATION ClassicClasses[2] = {{&ClassicClass, 0}, {&ClassicOther, 0}};
static TRACEHANDLE ClassicRegistration;
static TRACEHANDLE ClassicLogger;

static ULONG WINAPI ClassicControlCallback(WMIDPREQUESTCODE code, PVOID context, ULONG *size, PVOID buffer) {
  (void)context;
  (void)size;
  ClassicLogger = code == WMI_ENABLE_EVENTS ? GetTraceLoggerHandle(buffer) : 0;
  return 0;
}

__declspec(dllexport) void RegisterClassic(void) {
  RegisterTraceGuidsW(ClassicControlCallback, 0, &ClassicControl, 2, ClassicClasses, 0, 0,
                      &ClassicRegistration);
}

/* Class GUID inline: type 2, level 4, version 1. */
__declspec(dllexport) void WriteClassicInline(ULONG value) {
  struct {
    EVENT_TRACE_HEADER Header;
    ULONG Value;
  } ev;
  ev.Header.Size = sizeof ev;
  ev.Header.FieldTypeFlags = 0;
  ev.Header.Class.Type = 2;
  ev.Header.Class.Level = 4;
  ev.Header.Class.Version = 1;
  ev.Header.Guid = ClassicClass;
  ev.Header.Flags = WNODE_FLAG_TRACED_GUID;
  ev.Value = value;
  TraceEvent(ClassicLogger, &ev.Header);
}

/* Class GUID by pointer (WNODE_FLAG_USE_GUID_PTR): type 3, level 2, version 0. */
__declspec(dllexport) void WriteClassicByPointer(void) {
  EVENT_TRACE_HEADER h;
  h.Size = sizeof h;
  h.FieldTypeFlags = 0;
  h.Class.Type = 3;
  h.Class.Level = 2;
  h.Class.Version = 0;
  h.GuidPtr = (ULONGLONG)&ClassicOther;
  h.Flags = WNODE_FLAG_TRACED_GUID | WNODE_FLAG_USE_GUID_PTR;
  TraceEvent(ClassicLogger, &h);
}

/* ---- 3. EventWrite resolved at run time ---- */
typedef ULONG(WINAPI *EventWriteFn)(REGHANDLE, PCEVENT_DESCRIPTOR, ULONG, PEVENT_DATA_DESCRIPTOR);
static EventWriteFn DynamicEventWrite;
static const EVENT_DESCRIPTOR CDynamic = {7, 0, 0x10, 3, 0, 4, 0x8000000000000000ULL};

__declspec(dllexport) void ResolveDynamic(void) {
  HMODULE advapi = GetModuleHandleW(L"advapi32.dll");
  DynamicEventWrite = (EventWriteFn)(void *)GetProcAddress(advapi, "EventWrite");
}

__declspec(dllexport) void WriteDynamic(void) {
  if (DynamicEventWrite) DynamicEventWrite(HandleC, &CDynamic, 0, 0);
}

/* ---- 4. descriptor tables ---- */
static const EVENT_DESCRIPTOR BAny[3] = {
    {10, 0, 0x10, 4, 0, 5, 0x8000000000000000ULL},
    {11, 0, 0x10, 4, 0, 5, 0x8000000000000000ULL},
    {12, 0, 0x10, 4, 0, 5, 0x8000000000000000ULL},
};
static const EVENT_DESCRIPTOR BStage[3] = {
    {20, 0, 0x10, 4, 0, 6, 0x8000000000000000ULL},
    {21, 0, 0x10, 4, 0, 6, 0x8000000000000000ULL},
    {22, 0, 0x10, 4, 0, 6, 0x8000000000000000ULL},
};

/* Run-time index: one of the three. */
__declspec(dllexport) void WriteBAny(unsigned i) { EventWrite(HandleB, &BAny[i], 0, 0); }

/* Constant index on every path: entries 0 and 2 (21 is never written). */
__declspec(noinline) static void WriteStage(unsigned i) { EventWrite(HandleB, &BStage[i], 0, 0); }
__declspec(dllexport) void WriteStageFirst(void) { WriteStage(0); }
__declspec(dllexport) void WriteStageLast(void) { WriteStage(2); }

/* ---- 5. handles inside objects ---- */
static const GUID ProviderD = {0x5e1a0004, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const GUID ProviderE = {0x5e1a0005, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};

/* A service object: the trace context sits after other members (handle at this + 0x28 + 8). */
typedef struct {
  void *Vtable;
  ULONG State[8];
  TRACE_CONTEXT Trace;
} SERVICE_OBJECT;

SERVICE_OBJECT ServiceD;
SERVICE_OBJECT *ServiceE;

/* The method registers into its own member: EventRegister's handle is this + 0x30. */
__declspec(noinline) ULONG ServiceRegister(SERVICE_OBJECT *self, LPCGUID guid) {
  TRACE_CONTEXT *t = &self->Trace;
  return McGenEventRegister(guid, 0, t, &t->RegHandle);
}

__declspec(noinline) void ServiceTrace(TRACE_CONTEXT *t, PCEVENT_DESCRIPTOR d) { EventWrite(t->RegHandle, d, 0, 0); }

__declspec(dllexport) void StartServiceD(void) { ServiceRegister(&ServiceD, &ProviderD); }

__declspec(dllexport) void StartServiceE(void) {
  ServiceE = (SERVICE_OBJECT *)HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(SERVICE_OBJECT));
  if (ServiceE) ServiceRegister(ServiceE, &ProviderE);
}

/* An object of unknown origin: its registration and write meet by offset only, never matched. */
__declspec(dllexport) void StartServiceAt(SERVICE_OBJECT *self) { ServiceRegister(self, &ProviderD); }

static const EVENT_DESCRIPTOR DStart = {30, 0, 0x10, 4, 1, 7, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR DAt = {31, 0, 0x10, 4, 0, 7, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR EStart = {40, 0, 0x10, 4, 1, 8, 0x8000000000000000ULL};

__declspec(dllexport) void WriteDStart(void) { ServiceTrace(&ServiceD.Trace, &DStart); }
__declspec(dllexport) void WriteDAt(SERVICE_OBJECT *self) { ServiceTrace(&self->Trace, &DAt); }
__declspec(dllexport) void WriteEStart(void) {
  if (ServiceE) ServiceTrace(&ServiceE->Trace, &EStart);
}

/* The heap block's first member is the handle: EventRegister's handle argument is [HandleF] + 0. */
static const GUID ProviderF = {0x5e1a0006, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const EVENT_DESCRIPTOR FStart = {60, 0, 0x10, 4, 1, 10, 0x8000000000000000ULL};
REGHANDLE *HandleF;

__declspec(dllexport) void StartF(void) {
  REGHANDLE *h = (REGHANDLE *)HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, 4 * sizeof(REGHANDLE));
  if (!h) return;
  HandleF = h;
  EventRegister(&ProviderF, 0, 0, h);
}

__declspec(dllexport) void WriteFStart(void) {
  if (HandleF) EventWrite(*HandleF, &FStart, 0, 0);
}

/* Registered into a local, published after more than 64 instructions and an early return. */
static const GUID ProviderG = {0x5e1a0007, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const EVENT_DESCRIPTOR GStart = {70, 0, 0x10, 4, 1, 11, 0x8000000000000000ULL};
REGHANDLE HandleG;

#define TICK4 t += GetTickCount(); t ^= GetTickCount(); t += GetTickCount(); t ^= GetTickCount();
__declspec(dllexport) ULONG StartG(void) {
  REGHANDLE local = 0;
  ULONG status = EventRegister(&ProviderG, 0, 0, &local);
  if (status != 0) return status;
  ULONG t = 0;
  TICK4 TICK4 TICK4 TICK4 TICK4 TICK4 TICK4 TICK4
  if (t == 0x12345678) return t;
  TICK4 TICK4
  InterlockedExchange64((volatile LONG64 *)&HandleG, (LONG64)local);
  return t;
}

__declspec(dllexport) void WriteGStart(void) { EventWrite(HandleG, &GStart, 0, 0); }

/* A singleton provider object: constructed, then published; writes go through its getter. */
static const GUID ProviderH = {0x5e1a0008, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const EVENT_DESCRIPTOR HStart = {80, 0, 0x10, 4, 1, 12, 0x8000000000000000ULL};
typedef struct {
  ULONG Flags;
  ULONG Pad;
  REGHANDLE Handle;
} PROVIDER_H;
PROVIDER_H *InstanceH;

/* Returns nothing, so the caller keeps the object in its own register (clang infers `returned`). */
__declspec(noinline) void ConstructH(PROVIDER_H *self) {
  self->Flags = 1;
  EventRegister(&ProviderH, 0, 0, &self->Handle);
}

__declspec(noinline) PROVIDER_H *InstanceOfH(void) {
  if (!InstanceH) {
    PROVIDER_H *o = (PROVIDER_H *)HeapAlloc(GetProcessHeap(), 0, sizeof *o);
    if (o) ConstructH(o);
    InstanceH = o;
  }
  return InstanceH;
}

__declspec(dllexport) void WriteHStart(void) {
  PROVIDER_H *h = InstanceOfH();
  if (h) EventWrite(h->Handle, &HStart, 0, 0);
}

/* The constructor returns `this`; the caller publishes the returned value, not its own copy. */
static const GUID ProviderI = {0x5e1a0009, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const EVENT_DESCRIPTOR IStart = {90, 0, 0x10, 4, 1, 13, 0x8000000000000000ULL};
PROVIDER_H *InstanceI;

__declspec(noinline) __attribute__((used)) PROVIDER_H *ConstructI(PROVIDER_H *self) {
  self->Flags = 2;
  EventRegister(&ProviderI, 0, 0, &self->Handle);
  return self;
}

__declspec(noinline) __attribute__((used)) void *AllocI(void) {
  return HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(PROVIDER_H));
}

/* InstanceI = (o = AllocI()) ? ConstructI(o) : 0, with the constructor's result published. */
__declspec(dllexport) __attribute__((naked)) void StartI(void) {
  __asm__("sub $0x28, %rsp\n"
          "call AllocI\n"
          "test %rax, %rax\n"
          "je 1f\n"
          "mov %rax, %rcx\n"
          "call ConstructI\n"
          "1: mov %rax, InstanceI(%rip)\n"
          "add $0x28, %rsp\n"
          "ret\n");
}

__declspec(dllexport) void WriteIStart(void) {
  if (InstanceI) EventWrite(InstanceI->Handle, &IStart, 0, 0);
}

/* Never registered: no instruction writes HandleNever or takes its address. Its own section keeps
 * it away from the globals whose addresses the code takes (the rule also refuses a handle up to
 * 0x40 bytes after one: it could be a struct member). */
static const EVENT_DESCRIPTOR NeverStart = {100, 0, 0x10, 4, 1, 14, 0x8000000000000000ULL};
static const GUID ProviderNever = {0x5e1a000a, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
__attribute__((used)) static const GUID *NeverGuid = &ProviderNever; /* its GUID is in the image */
__attribute__((section(".never"))) REGHANDLE HandleNever;

__declspec(dllexport) void WriteNever(void) { EventWrite(HandleNever, &NeverStart, 0, 0); }

/* ---- 6. stack argument through a copy of RSP ---- */
__attribute__((used)) static const EVENT_DESCRIPTOR CFifth = {50, 0, 0x10, 4, 0, 9, 0x8000000000000000ULL};

/* The descriptor is the fifth argument (a stack slot), like McTemplate helpers' descriptor. */
__declspec(noinline) __attribute__((used)) ULONG WriteFifth(REGHANDLE h, ULONG a, ULONG b, ULONG c,
                                                            PCEVENT_DESCRIPTOR d) {
  (void)a;
  (void)b;
  (void)c;
  return EventWrite(h, d, 0, 0);
}

/* rsp after the sub = r11 - 0x68, so [r11 - 0x48] is [rsp + 0x20]: the fifth argument. */
__declspec(dllexport) __attribute__((naked)) void WriteThroughR11(void) {
  __asm__("mov %rsp, %r11\n"
          "sub $0x68, %rsp\n"
          "lea CFifth(%rip), %rax\n"
          "mov %rax, -0x48(%r11)\n"
          "mov HandleC(%rip), %rcx\n"
          "xor %edx, %edx\n"
          "xor %r8d, %r8d\n"
          "xor %r9d, %r9d\n"
          "call WriteFifth\n"
          "add $0x68, %rsp\n"
          "ret\n");
}

/* ---- 7. descriptors and GUIDs the code fills at run time ---- */
/* (a) The GUID is copied into an uninitialised global right before it is registered (lsm.dll,
 * termsrv.dll): the registration names J, not the global's static zeros. */
__attribute__((used)) static const GUID ProviderJ = {0x5e1a000b, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
typedef struct {
  GUID Guid;
  PCEVENT_DESCRIPTOR Slots[2];
  REGHANDLE Handle;
} LOGGER_J;
LOGGER_J LoggerJ;

__attribute__((used)) static const EVENT_DESCRIPTOR JSlot = {112, 0, 0x10, 4, 0, 15, 0x8000000000000000ULL};
__attribute__((used)) static const EVENT_DESCRIPTOR JSlotOne = {113, 0, 0x10, 4, 0, 15, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR JSlotOther = {114, 0, 0x10, 4, 0, 15, 0x8000000000000000ULL};

/* (c) Slots[0] is filled with one descriptor; Slots[1] with one of two (must not name either). */
__declspec(dllexport) __attribute__((naked)) void StartJ(void) {
  __asm__("sub $0x28, %rsp\n"
          "movups ProviderJ(%rip), %xmm0\n"
          "lea LoggerJ+0x20(%rip), %r9\n"
          "xor %r8d, %r8d\n"
          "xor %edx, %edx\n"
          "lea LoggerJ(%rip), %rcx\n"
          "movups %xmm0, LoggerJ(%rip)\n"
          "call *__imp_EventRegister(%rip)\n"
          "lea JSlot(%rip), %rax\n"
          "mov %rax, LoggerJ+0x10(%rip)\n"
          "lea JSlotOne(%rip), %rax\n"
          "mov %rax, LoggerJ+0x18(%rip)\n"
          "add $0x28, %rsp\n"
          "ret\n");
}

__declspec(dllexport) void RetargetJ(void) { LoggerJ.Slots[1] = &JSlotOther; }

__declspec(dllexport) void WriteJSlot(void) { EventWrite(LoggerJ.Handle, LoggerJ.Slots[0], 0, 0); }
__declspec(dllexport) void WriteJSlotEither(void) { EventWrite(LoggerJ.Handle, LoggerJ.Slots[1], 0, 0); }

/* (b) A read-only table of activity records, each with its descriptor pointer (MPSSVC.dll): the
 * helper reads the record's pointer (passed from assembly: nothing folds it). */
static const EVENT_DESCRIPTOR JActivityStart = {111, 0, 0x10, 4, 1, 16, 0x8000000000000000ULL};
typedef struct {
  ULONG_PTR Cookie;
  PCEVENT_DESCRIPTOR Start;
} ACTIVITY;
__declspec(dllexport) const ACTIVITY ActivityJ = {1, &JActivityStart};

__declspec(noinline) __attribute__((used)) void StartActivity(const ACTIVITY *a) {
  EventWrite(LoggerJ.Handle, a->Start, 0, 0);
}
__declspec(dllexport) __attribute__((naked)) void WriteJActivity(void) {
  __asm__("sub $0x28, %rsp\n"
          "lea ActivityJ(%rip), %rcx\n"
          "call StartActivity\n"
          "add $0x28, %rsp\n"
          "ret\n");
}

/* (d) C++-style event objects on the stack: the descriptor member set by a constructor call,
 * by an inlined constructor, and — must not match — set, then handed to an opaque function. */
static const EVENT_DESCRIPTOR JConstructed = {118, 0, 0x10, 4, 0, 17, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR JInline = {119, 0, 0x10, 4, 0, 17, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR JOpaque = {120, 0, 0x10, 4, 0, 17, 0x8000000000000000ULL};
typedef struct {
  void *Vtable;
  ULONG Flags;
  PCEVENT_DESCRIPTOR Descriptor;
} EVENT_OBJECT;
void (*MutateEvent)(EVENT_OBJECT *);

__declspec(noinline) __attribute__((used)) void ConstructEvent(EVENT_OBJECT *self, PCEVENT_DESCRIPTOR d) {
  self->Vtable = 0;
  self->Flags = 1;
  self->Descriptor = d;
}
__declspec(noinline) __attribute__((used)) void FireEvent(const EVENT_OBJECT *e) {
  EventWrite(LoggerJ.Handle, e->Descriptor, 0, 0);
}
__declspec(dllexport) void WriteJConstructed(void) {
  EVENT_OBJECT e;
  ConstructEvent(&e, &JConstructed);
  FireEvent(&e);
}
__declspec(dllexport) void WriteJInline(void) {
  EVENT_OBJECT e;
  e.Vtable = 0;
  e.Flags = 2;
  e.Descriptor = &JInline;
  FireEvent(&e);
}
__declspec(dllexport) void WriteJOpaque(void) {
  EVENT_OBJECT e;
  ConstructEvent(&e, &JOpaque);
  MutateEvent(&e); /* unconditional: the opaque call, not a join, is what refuses */
  FireEvent(&e);
}

/* (e) One descriptor per level copied onto the stack at a shared write (clusapi.dll): three
 * events at one site; a fourth path copies the caller's descriptor (no fourth event, an
 * unresolved one instead). */
__attribute__((used)) static const EVENT_DESCRIPTOR JLevelInfo = {115, 0, 0x10, 4, 0, 18, 0x8000000000000000ULL};
__attribute__((used)) static const EVENT_DESCRIPTOR JLevelWarning = {116, 0, 0x10, 3, 0, 18, 0x8000000000000000ULL};
__attribute__((used)) static const EVENT_DESCRIPTOR JLevelError = {117, 0, 0x10, 2, 0, 18, 0x8000000000000000ULL};
__declspec(dllexport) __attribute__((naked)) void WriteJLevel(ULONG level, PCEVENT_DESCRIPTOR other) {
  __asm__("sub $0x48, %rsp\n"
          "cmp $1, %ecx\n"
          "je 1f\n"
          "cmp $2, %ecx\n"
          "je 2f\n"
          "cmp $3, %ecx\n"
          "je 3f\n"
          "movups JLevelInfo(%rip), %xmm0\n"
          "jmp 4f\n"
          "1: movups JLevelWarning(%rip), %xmm0\n"
          "jmp 4f\n"
          "2: movups JLevelError(%rip), %xmm0\n"
          "jmp 4f\n"
          "3: movups (%rdx), %xmm0\n"
          "4: movdqu %xmm0, 0x30(%rsp)\n"
          "mov LoggerJ+0x20(%rip), %rcx\n"
          "lea 0x30(%rsp), %rdx\n"
          "xor %r8d, %r8d\n"
          "xor %r9d, %r9d\n"
          "call *__imp_EventWrite(%rip)\n"
          "add $0x48, %rsp\n"
          "ret\n");
}

/* (f) The GUID copied onto the stack from the caller's pointer before registering (clusapi.dll). */
static const GUID ProviderK = {0x5e1a000c, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const EVENT_DESCRIPTOR KStart = {121, 0, 0x10, 4, 1, 19, 0x8000000000000000ULL};
REGHANDLE HandleK;
__declspec(noinline) __attribute__((used)) ULONG RegisterCopy(const GUID *guid, REGHANDLE *handle) {
  GUID local = *guid;
  return EventRegister(&local, 0, 0, handle);
}
__declspec(dllexport) void StartK(void) { RegisterCopy(&ProviderK, &HandleK); }
__declspec(dllexport) void WriteKStart(void) { EventWrite(HandleK, &KStart, 0, 0); }

/* Must not match: a GUID global nothing fills is GUID_NULL, which names no provider. */
GUID GuidNull;
REGHANDLE HandleNull;
static const EVENT_DESCRIPTOR NullStart = {122, 0, 0x10, 4, 1, 20, 0x8000000000000000ULL};
__declspec(dllexport) void StartNull(void) { EventRegister(&GuidNull, 0, 0, &HandleNull); }
__declspec(dllexport) void WriteNullStart(void) { EventWrite(HandleNull, &NullStart, 0, 0); }

/* ---- recall16p: providers kept in a keyed table (lsasrv.dll / samsrv.dll) ----
 * RegisterInTable registers into a local entry, inserts a copy into an AVL table ordered by the
 * entry's REGHANDLE alone and hands the handle out through an out-parameter (HandleP, HandleQ).
 * A write looks the entry up by a key whose handle is the global's and writes with the found
 * entry's handle: the key field equals the global's value, so the provider is that global's.
 * Must not match: ProviderR's table orders by Flags then Handle, so the found entry's handle is
 * not proved to be the key's (WriteRStart has no provider). */
typedef struct {
  GUID Guid;
  ULONG Flags;
  REGHANDLE Handle; /* +18h */
} PROVIDER_ENTRY;
typedef int(NTAPI *TABLE_COMPARE)(void *table, void *first, void *second);
__declspec(dllimport) void NTAPI RtlInitializeGenericTableAvl(void *table, TABLE_COMPARE compare, void *allocate,
                                                              void *free, void *context);
__declspec(dllimport) void *NTAPI RtlLookupElementGenericTableAvl(void *table, void *buffer);
__declspec(dllimport) void *NTAPI RtlInsertElementGenericTableAvl(void *table, void *buffer, ULONG size,
                                                                  BOOLEAN *isNew);

static const GUID ProviderP = {0x5e1a0010, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const GUID ProviderQ = {0x5e1a0011, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const GUID ProviderR = {0x5e1a0012, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const EVENT_DESCRIPTOR PStart = {130, 0, 0x10, 4, 1, 21, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR QStart = {131, 0, 0x10, 4, 1, 22, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR RStart = {132, 0, 0x10, 4, 1, 23, 0x8000000000000000ULL};
/* RTL_AVL_TABLE is 0x68 bytes on x64. */
static __declspec(align(16)) unsigned char ProviderTable[0x68];
static __declspec(align(16)) unsigned char FlaggedTable[0x68];
REGHANDLE HandleP;
REGHANDLE HandleQ;
REGHANDLE HandleR;

static int NTAPI CompareByHandle(void *table, void *first, void *second) {
  (void)table;
  REGHANDLE a = ((PROVIDER_ENTRY *)first)->Handle;
  REGHANDLE b = ((PROVIDER_ENTRY *)second)->Handle;
  return a < b ? 0 : a > b ? 1 : 2;
}

static int NTAPI CompareByFlagsThenHandle(void *table, void *first, void *second) {
  (void)table;
  PROVIDER_ENTRY *a = first;
  PROVIDER_ENTRY *b = second;
  if (a->Flags != b->Flags) return a->Flags < b->Flags ? 0 : 1;
  return a->Handle < b->Handle ? 0 : a->Handle > b->Handle ? 1 : 2;
}

static void *NTAPI AllocEntry(void *table, ULONG size) {
  (void)table;
  return HeapAlloc(GetProcessHeap(), 0, size);
}

static void NTAPI FreeEntry(void *table, void *p) {
  (void)table;
  HeapFree(GetProcessHeap(), 0, p);
}

__declspec(noinline) __attribute__((used)) ULONG RegisterInTable(void *table, LPCGUID guid, PREGHANDLE out) {
  PROVIDER_ENTRY e = {0};
  e.Guid = *guid;
  ULONG status = EventRegister(guid, 0, 0, &e.Handle);
  if (status != 0) return status;
  RtlInsertElementGenericTableAvl(table, &e, sizeof e, 0);
  *out = e.Handle;
  return 0;
}

/* One initialiser call each: `call [__imp_…]` (two in one function share a register load). */
__declspec(noinline) __attribute__((used)) void InitProviderTable(void) {
  RtlInitializeGenericTableAvl(ProviderTable, CompareByHandle, AllocEntry, FreeEntry, 0);
}

__declspec(noinline) __attribute__((used)) void InitFlaggedTable(void) {
  RtlInitializeGenericTableAvl(FlaggedTable, CompareByFlagsThenHandle, AllocEntry, FreeEntry, 0);
}

__declspec(dllexport) void StartTables(void) {
  InitProviderTable();
  InitFlaggedTable();
  RegisterInTable(ProviderTable, &ProviderP, &HandleP);
  RegisterInTable(ProviderTable, &ProviderQ, &HandleQ);
  RegisterInTable(FlaggedTable, &ProviderR, &HandleR);
}

__declspec(noinline) __attribute__((used)) void WriteThroughTable(REGHANDLE *which, PCEVENT_DESCRIPTOR d) {
  PROVIDER_ENTRY key = {0};
  key.Handle = *which;
  PROVIDER_ENTRY *e = RtlLookupElementGenericTableAvl(ProviderTable, &key);
  if (e) EventWrite(e->Handle, d, 0, 0);
}

__declspec(noinline) __attribute__((used)) void WriteThroughFlagged(REGHANDLE *which, PCEVENT_DESCRIPTOR d) {
  PROVIDER_ENTRY key = {0};
  key.Handle = *which;
  PROVIDER_ENTRY *e = RtlLookupElementGenericTableAvl(FlaggedTable, &key);
  if (e) EventWrite(e->Handle, d, 0, 0);
}

__declspec(dllexport) void WritePStart(void) { WriteThroughTable(&HandleP, &PStart); }
__declspec(dllexport) void WriteQStart(void) { WriteThroughTable(&HandleQ, &QStart); }
__declspec(dllexport) void WriteRStart(void) { WriteThroughFlagged(&HandleR, &RStart); }

/* recall16p: a write passing the handle 0 (ole32.dll, psmsrv.dll: `xor ecx, ecx; call EventWrite`):
 * it fails with ERROR_INVALID_HANDLE, no provider can be named; counted as a null-handle site. */
static const EVENT_DESCRIPTOR ZStart = {140, 0, 0x10, 4, 1, 24, 0x8000000000000000ULL};
static const GUID ProviderZ = {0x5e1a0013, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
__attribute__((used)) static const GUID *ZGuid = &ProviderZ; /* its GUID is in the image */

__declspec(dllexport) void WriteNullHandle(void) { EventWrite(0, &ZStart, 0, 0); }

/* recall16p: a helper that writes only behind its context's null test, called with a null context
 * (samsrv.dll's trace helpers): the handle is read through address 0 — a null-handle site too. */
typedef struct {
  ULONG Flags;
  REGHANDLE Handle;
} TRACE_CONTEXT_N;
static const EVENT_DESCRIPTOR ZCtxStart = {141, 0, 0x10, 4, 1, 25, 0x8000000000000000ULL};

__declspec(noinline) __attribute__((used)) void WriteThroughContext(TRACE_CONTEXT_N *ctx, PCEVENT_DESCRIPTOR d) {
  if (ctx) EventWrite(ctx->Handle, d, 0, 0);
}

__declspec(dllexport) void WriteNullContext(void) { WriteThroughContext(0, &ZCtxStart); }

/* ---- recall16v: cold code without unwind info, a level patched at run time, an out-parameter ---- */
static const GUID ProviderV1 = {0x5e1a0161, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const GUID ProviderV2 = {0x5e1a0162, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const GUID ProviderV3 = {0x5e1a0163, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
REGHANDLE HandleV1;
REGHANDLE HandleV2;
REGHANDLE HandleV3;

/* One registration per function (two calls in one share a register load of the import). */
__declspec(dllexport) void StartV1(void) { EventRegister(&ProviderV1, 0, 0, &HandleV1); }
__declspec(dllexport) void StartV2(void) { EventRegister(&ProviderV2, 0, 0, &HandleV2); }
__declspec(dllexport) void StartV3(void) { EventRegister(&ProviderV3, 0, 0, &HandleV3); }

/* (a) AppXDeploymentClient.dll: a frameless leaf switch (no .pdata entry) whose cases sit in cold
 * code after another function's .pdata range and tail-call the write helper. The cold block is in
 * a later .text$ section, after ColdNeighbour (whose .pdata range ends before it); only the
 * switch's branches reach it. */
__attribute__((used)) static const EVENT_DESCRIPTOR VColdA = {160, 0, 0x10, 4, 1, 60, 0x8000000000000000ULL};
__attribute__((used)) static const EVENT_DESCRIPTOR VColdB = {161, 0, 0x10, 4, 2, 60, 0x8000000000000000ULL};

/* Reached by the cold block's tail jump only: exported, so it is a function start without the PDB. */
__declspec(dllexport) __declspec(noinline) ULONG WriteV1(PCEVENT_DESCRIPTOR d) { return EventWrite(HandleV1, d, 0, 0); }

__declspec(dllexport) __attribute__((naked)) void WriteColdSwitch(ULONG which) {
  __asm__("cmp $1, %ecx\n"
          "je .Lv_cold_a\n"
          "cmp $2, %ecx\n"
          "je .Lv_cold_b\n"
          "xor %eax, %eax\n"
          "ret\n");
}

__declspec(noinline) __attribute__((used)) ULONG Twice(ULONG x) { return 2 * x; }

/* A function with a frame (a .pdata entry) just before the cold block. */
__declspec(dllexport) __attribute__((section(".text$zzv1"))) ULONG ColdNeighbour(ULONG x) { return Twice(x) + 1; }

__asm__(".section .text$zzv2,\"xr\"\n"
        ".Lv_cold_a:\n"
        "lea VColdA(%rip), %rcx\n"
        "jmp .Lv_cold_write\n"
        ".Lv_cold_b:\n"
        "lea VColdB(%rip), %rcx\n"
        ".Lv_cold_write:\n"
        "jmp WriteV1\n");

/* (b) diagperf.dll: a descriptor copied onto the stack, then its Level byte set from a run-time
 * value before the write: from a global (naked, as MSVC lays it out) and through the caller's
 * pointer (one site per caller). */
EVENT_DESCRIPTOR VLevelGlobal = {162, 0, 0x10, 4, 0, 61, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR VLevelA = {163, 0, 0x10, 4, 0, 62, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR VLevelB = {164, 0, 0x10, 4, 0, 63, 0x8000000000000000ULL};

__declspec(noinline) __attribute__((used)) UCHAR LevelFor(ULONG ms) { return ms > 100 ? 2 : 4; }

__declspec(dllexport) __attribute__((naked)) void WriteLevelGlobal(ULONG ms) {
  __asm__("sub $0x48, %rsp\n"
          "movups VLevelGlobal(%rip), %xmm0\n"
          "movups %xmm0, 0x30(%rsp)\n"
          "call LevelFor\n"
          "mov %al, 0x34(%rsp)\n"
          "mov HandleV2(%rip), %rcx\n"
          "lea 0x30(%rsp), %rdx\n"
          "xor %r8d, %r8d\n"
          "xor %r9d, %r9d\n"
          "call *__imp_EventWrite(%rip)\n"
          "add $0x48, %rsp\n"
          "ret\n");
}

__declspec(noinline) __attribute__((used)) void WriteWithLevel(const EVENT_DESCRIPTOR *src, ULONG ms) {
  EVENT_DESCRIPTOR d = *src;
  d.Level = LevelFor(ms);
  EventWrite(HandleV2, &d, 0, 0);
}

__declspec(dllexport) void WriteLevelA(ULONG ms) { WriteWithLevel(&VLevelA, ms); }
__declspec(dllexport) void WriteLevelB(ULONG ms) { WriteWithLevel(&VLevelB, ms); }

/* (c) gpsvc.dll: an event object hands its descriptor out through a getter's out-parameter. */
static const EVENT_DESCRIPTOR VOut = {165, 0, 0x10, 4, 0, 64, 0x8000000000000000ULL};
typedef struct {
  PCEVENT_DESCRIPTOR Descriptor;
  ULONG Flags;
} OUT_EVENT;

__declspec(noinline) __attribute__((used)) ULONG GetEventDescriptor(const OUT_EVENT *e, PCEVENT_DESCRIPTOR *out) {
  *out = e->Descriptor;
  return e->Flags;
}

__declspec(noinline) __attribute__((used)) void LogOutEvent(const OUT_EVENT *e) {
  PCEVENT_DESCRIPTOR d;
  if (GetEventDescriptor(e, &d) == 0) EventWrite(HandleV3, d, 0, 0);
}

ULONG OutFlags; /* not a constant: the object is filled by stores, not copied from .rdata */

__declspec(dllexport) void WriteOutParameter(void) {
  OUT_EVENT e;
  e.Descriptor = &VOut;
  e.Flags = OutFlags;
  LogOutEvent(&e);
}

/* (d) AppReadiness.dll: the descriptor returned by a virtual getter each class overrides; which
 * class the object has is known at run time only, so the site lists both getters' descriptors. */
static const EVENT_DESCRIPTOR VStepA = {166, 0, 0x10, 4, 1, 65, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR VStepB = {167, 0, 0x10, 4, 1, 66, 0x8000000000000000ULL};
typedef struct STEP STEP;
typedef struct {
  ULONG (*Run)(STEP *);
  PCEVENT_DESCRIPTOR (*StartEvent)(void);
} STEP_VTABLE;
struct STEP {
  const STEP_VTABLE *Vtable;
  ULONG State;
};

__declspec(noinline) static ULONG RunStep(STEP *s) { return s->State; }
__declspec(noinline) static PCEVENT_DESCRIPTOR StartEventA(void) { return &VStepA; }
__declspec(noinline) static PCEVENT_DESCRIPTOR StartEventB(void) { return &VStepB; }
static const STEP_VTABLE StepAVtable = {RunStep, StartEventA};
static const STEP_VTABLE StepBVtable = {RunStep, StartEventB};

__declspec(dllexport) __declspec(noinline) void StartStep(STEP *s) {
  EventWrite(HandleV3, s->Vtable->StartEvent(), 0, 0);
}

static STEP *NewStep(const STEP_VTABLE *vtable) {
  STEP *s = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(STEP));
  if (s) s->Vtable = vtable;
  return s;
}

__declspec(dllexport) void RunSteps(void) {
  STEP *a = NewStep(&StepAVtable);
  STEP *b = NewStep(&StepBVtable);
  if (a) StartStep(a);
  if (b) StartStep(b);
}
/* ---- recall16t: a table of descriptor pointers indexed at run time (combase.dll) ----
 * The pointer is loaded from the table, then kept in a callee-saved register across a call and a
 * branch before the write: the site is reported once as "one of 3" (150-152). With the handle of
 * a registered provider the three count as found as one of N; TOther's site has a handle only its
 * caller knows (an export's parameter), so 153/154 stay "table-indexed". */
static const EVENT_DESCRIPTOR TFirst = {150, 0, 0x10, 4, 0, 26, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR TSecond = {151, 0, 0x10, 3, 0, 26, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR TThird = {152, 0, 0x10, 2, 0, 26, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR *const TTable[3] = {&TFirst, &TSecond, &TThird};
static const EVENT_DESCRIPTOR TOtherA = {153, 0, 0x10, 4, 0, 27, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR TOtherB = {154, 0, 0x10, 4, 0, 27, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR *const TOther[2] = {&TOtherA, &TOtherB};
void (*volatile TouchHook)(const void *);

__declspec(dllexport) void WriteTAcross(unsigned i) {
  const EVENT_DESCRIPTOR *d = TTable[i];
  if (TouchHook) TouchHook(d);
  EventWrite(HandleB, d, 0, 0);
}

__declspec(dllexport) void WriteTHandleParam(REGHANDLE h, unsigned i) {
  const EVENT_DESCRIPTOR *d = TOther[i];
  if (TouchHook) TouchHook(d);
  EventWrite(h, d, 0, 0);
}

/* recall16t: records of three descriptors indexed at run time (d3d11.dll's resource-type table of
 * 38h-byte records: `imul rdx, rax, 38h; lea rax, [T]; add rdx, rax; lea r8, [rdx+28h]`): the
 * write names the Stop field, one of the 3 records (262, 265, 268); the Start and DcStart fields
 * no write takes stay unreferenced data. */
typedef struct {
  ULONG64 Kind;
  EVENT_DESCRIPTOR DcStart, Start, Stop;
} RESOURCE_EVENTS;
static const RESOURCE_EVENTS RRecords[3] = {
    {1, {260, 0, 0x10, 4, 3, 29, 0x8000000000000000ULL}, {261, 0, 0x10, 4, 1, 29, 0x8000000000000000ULL},
     {262, 0, 0x10, 4, 2, 29, 0x8000000000000000ULL}},
    {2, {263, 0, 0x10, 4, 3, 30, 0x8000000000000000ULL}, {264, 0, 0x10, 4, 1, 30, 0x8000000000000000ULL},
     {265, 0, 0x10, 4, 2, 30, 0x8000000000000000ULL}},
    {4, {266, 0, 0x10, 4, 3, 31, 0x8000000000000000ULL}, {267, 0, 0x10, 4, 1, 31, 0x8000000000000000ULL},
     {268, 0, 0x10, 4, 2, 31, 0x8000000000000000ULL}},
};

__declspec(dllexport) void WriteRecordStop(unsigned i) {
  const EVENT_DESCRIPTOR *d = &RRecords[i].Stop;
  if (TouchHook) TouchHook(d);
  EventWrite(HandleB, d, 0, 0);
}

/* recall16t: 28h-byte records holding a descriptor pointer, the index scaled by `lea r,[r+r*4]`
 * and the operand's *8 (gpsvc.dll's task records): one of the 3 (170-172). */
typedef struct {
  ULONG64 Id;
  const EVENT_DESCRIPTOR *Start;
  ULONG64 State[3];
} TASK_RECORD;
static const EVENT_DESCRIPTOR KFirst = {170, 0, 0x10, 4, 1, 32, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR KSecond = {171, 0, 0x10, 4, 1, 33, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR KThird = {172, 0, 0x10, 4, 1, 34, 0x8000000000000000ULL};
static const TASK_RECORD KRecords[3] = {{0, &KFirst, {0}}, {1, &KSecond, {0}}, {2, &KThird, {0}}};

__declspec(dllexport) void WriteTaskRecord(unsigned i) {
  const EVENT_DESCRIPTOR *d = KRecords[i].Start;
  if (TouchHook) TouchHook(d);
  EventWrite(HandleB, d, 0, 0);
}

/* recall16t: a record's Start or Stop pointer picked on two paths (powercpl.dll's page records:
 * `lea rcx,[rax+rax*2]; test; je; mov rdx,[r14+rcx*8+8]; jmp; mov rdx,[r14+rcx*8+10h]`): one site,
 * one table per field (180/182, 181/183). */
typedef struct {
  const void *Page;
  const EVENT_DESCRIPTOR *Start;
  const EVENT_DESCRIPTOR *Stop;
} PAGE_RECORD;
static const EVENT_DESCRIPTOR PgFirstStart = {180, 0, 0x10, 4, 1, 35, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR PgFirstStop = {181, 0, 0x10, 4, 2, 35, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR PgSecondStart = {182, 0, 0x10, 4, 1, 36, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR PgSecondStop = {183, 0, 0x10, 4, 2, 36, 0x8000000000000000ULL};
static const PAGE_RECORD PgRecords[2] = {{0, &PgFirstStart, &PgFirstStop}, {0, &PgSecondStart, &PgSecondStop}};

__declspec(dllexport) void WritePageEvent(unsigned i, int stop) {
  const EVENT_DESCRIPTOR *d;
  if (stop) {
    d = PgRecords[i].Stop;
    if (TouchHook) TouchHook(d);
  } else
    d = PgRecords[i].Start;
  EventWrite(HandleB, d, 0, 0);
}

/* recall16t: a write helper copying the descriptor its caller's record points to and patching the
 * level (crypt32.dll's chain-engine events): one caller passes a constant record (190), the other
 * a record picked at run time from a table whose record 0 and record 2 are empty (one of 191/193). */
typedef struct {
  const EVENT_DESCRIPTOR *Start;
  const void *Context;
} CHAIN_RECORD;
static const EVENT_DESCRIPTOR ChOne = {190, 0, 0x10, 4, 1, 37, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR ChFirst = {191, 0, 0x10, 4, 1, 38, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR ChThird = {193, 0, 0x10, 4, 1, 39, 0x8000000000000000ULL};
static const CHAIN_RECORD ChRecords[4] = {{0, 0}, {&ChFirst, 0}, {0, 0}, {&ChThird, 0}};
static const CHAIN_RECORD ChSingle = {&ChOne, 0};

__declspec(noinline) static void WriteCopied(const CHAIN_RECORD *r, UCHAR level) {
  EVENT_DESCRIPTOR d = *r->Start;
  d.Level = level;
  EventWrite(HandleB, &d, 0, 0);
}
__declspec(dllexport) void WriteChainAny(unsigned i, UCHAR level) { WriteCopied(&ChRecords[i], level); }
__declspec(dllexport) void WriteChainOne(void) { WriteCopied(&ChSingle, 4); }

/* ---- 8. handles in objects a parameter points to (recall16h) ---- */

/* A session object whose registration helper registers into a local and copies it into the object
 * (fveapi.dll: `mov rax,[rsp+28h]; mov [rdi+50h], rax`), called by the function that then writes
 * the member: both name `param 0 + 0x50` of SessionStart, the same object. */
static const GUID ProviderS = {0x5e1a0014, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const EVENT_DESCRIPTOR SStart = {350, 0, 0x10, 4, 1, 26, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR SOther = {351, 0, 0x10, 4, 0, 26, 0x8000000000000000ULL};
typedef struct {
  ULONG State[20];
  REGHANDLE Handle;
} SESSION;

__declspec(noinline) ULONG SessionRegister(SESSION *s) {
  REGHANDLE h = 0;
  ULONG status = EventRegister(&ProviderS, 0, 0, &h);
  if (status == 0) s->Handle = h;
  return status;
}

__declspec(dllexport) void SessionStart(SESSION *s) {
  if (!s->Handle) SessionRegister(s);
  EventWrite(s->Handle, &SStart, 0, 0);
}

/* Another function's parameter at the same offset: nothing says it is a registered session. */
__declspec(dllexport) void SessionOther(SESSION *s) { EventWrite(s->Handle, &SOther, 0, 0); }

/* A class with a vtable (msmpeg2adec.dll's decoder): the constructor installs the vtable and
 * registers into this + 0x10; a virtual method, reached only through the vtable, writes
 * [this + 0x10]. A second class of the same layout whose constructor registers nothing: its
 * method's write stays without provider (classes meet by vtable, not by offset). */
static const GUID ProviderV = {0x5e1a0015, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const EVENT_DESCRIPTOR VFrame = {410, 0, 0x10, 4, 0, 27, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR VPlain = {411, 0, 0x10, 4, 0, 27, 0x8000000000000000ULL};
typedef struct CODEC CODEC;
typedef struct {
  void (*Process)(CODEC *);
  void (*Reset)(CODEC *);
} CODEC_VTBL;
struct CODEC {
  const CODEC_VTBL *Vtbl;
  ULONG Frames;
  REGHANDLE Handle;
};

__declspec(noinline) static void CodecMethodProcess(CODEC *c) {
  c->Frames++;
  EventWrite(c->Handle, &VFrame, 0, 0);
}
__declspec(noinline) static void CodecMethodReset(CODEC *c) { c->Frames = 0; }
static const CODEC_VTBL CodecVtbl = {CodecMethodProcess, CodecMethodReset};

__declspec(noinline) static void PlainProcess(CODEC *c) { EventWrite(c->Handle, &VPlain, 0, 0); }
static const CODEC_VTBL PlainVtbl = {PlainProcess, CodecMethodReset};

__declspec(noinline) void CodecConstruct(CODEC *c) {
  c->Vtbl = &CodecVtbl;
  c->Frames = 0;
  EventRegister(&ProviderV, 0, 0, &c->Handle);
}

__declspec(noinline) void PlainConstruct(CODEC *c) {
  c->Vtbl = &PlainVtbl;
  c->Frames = 0;
}

/* Not exported: without .pdata or symbols (this fixture has none) the methods, reached only from
 * data, are no function starts; lld lays functions out by name, so theirs join this one's body. */
__declspec(noinline) static CODEC *CodecMake(BOOL plain) {
  CODEC *c = (CODEC *)HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(CODEC));
  if (c) {
    if (plain)
      PlainConstruct(c);
    else
      CodecConstruct(c);
  }
  return c;
}

__declspec(dllexport) CODEC *CodecNew(BOOL plain) { return CodecMake(plain); }
__declspec(dllexport) void CodecRun(CODEC *c) { c->Vtbl->Process(c); }

/* A holder object published in a global (as null when its allocation fails) whose first member
 * receives a logger block, registered in place through a copy of the block's pointer taken before
 * the store (hevcdecoder.dll; assembly, as MSVC emits it): the handle is [[HolderL]] + 8, what the
 * write reads. */
__attribute__((used)) static const GUID ProviderL = {0x5e1a0016, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const EVENT_DESCRIPTOR LStart = {370, 0, 0x10, 4, 1, 28, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR LAudit = {371, 0, 0x10, 4, 0, 28, 0x8000000000000000ULL};
typedef struct {
  ULONG Status;
  REGHANDLE Handle;
} LOGGER_L;
typedef struct {
  LOGGER_L *Logger;
} HOLDER_L;
HOLDER_L *HolderL;

__declspec(dllexport) __attribute__((naked)) ULONG StartL(void) {
  __asm__("push %rbx\n"
          "push %rdi\n"
          "sub $0x28, %rsp\n"
          "mov HolderL(%rip), %rbx\n"
          "test %rbx, %rbx\n"
          "jne 2f\n"
          "call *__imp_GetProcessHeap(%rip)\n"
          "mov %rax, %rcx\n"
          "xor %edx, %edx\n"
          "mov $8, %r8d\n"
          "call *__imp_HeapAlloc(%rip)\n"
          "mov %rax, %rbx\n"
          "test %rax, %rax\n"
          "je 1f\n"
          "movq $0, (%rax)\n"
          "jmp 3f\n"
          "1: xor %ebx, %ebx\n"
          "3: mov %rbx, HolderL(%rip)\n"
          "test %rbx, %rbx\n"
          "jne 2f\n"
          "xor %eax, %eax\n"
          "jmp 9f\n"
          "2: cmpq $0, (%rbx)\n"
          "jne 8f\n"
          "call *__imp_GetProcessHeap(%rip)\n"
          "mov %rax, %rcx\n"
          "xor %edx, %edx\n"
          "mov $16, %r8d\n"
          "call *__imp_HeapAlloc(%rip)\n"
          "mov %rax, %rdi\n"
          "mov %rax, (%rbx)\n"
          "test %rax, %rax\n"
          "je 8f\n"
          "lea 8(%rdi), %r9\n"
          "xor %r8d, %r8d\n"
          "xor %edx, %edx\n"
          "lea ProviderL(%rip), %rcx\n"
          "call *__imp_EventRegister(%rip)\n"
          "mov %eax, (%rdi)\n"
          "8: mov $1, %eax\n"
          "9: add $0x28, %rsp\n"
          "pop %rdi\n"
          "pop %rbx\n"
          "ret\n");
}

__declspec(dllexport) void WriteLStart(void) {
  if (HolderL && HolderL->Logger) EventWrite(HolderL->Logger->Handle, &LStart, 0, 0);
}

/* Registration through member pointers (`&p->Logger->Handle`, `&p->Audit->Handle`, two providers)
 * by helpers, and writes of both through a helper from the same caller: one function holds two
 * registrations (no locality); each write is named by its place inside the object the parameter's
 * member points to. */
static const GUID ProviderM = {0x5e1a0017, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const EVENT_DESCRIPTOR MStart = {380, 0, 0x10, 4, 1, 29, 0x8000000000000000ULL};
typedef struct {
  ULONG Frames;
  LOGGER_L *Logger;
  LOGGER_L *Audit;
} PIPE;

__declspec(noinline) void PipeOpenOne(LOGGER_L **slot, LPCGUID guid) {
  (*slot)->Status = EventRegister(guid, 0, 0, &(*slot)->Handle);
}

__declspec(noinline) void PipeOpen(PIPE *p) {
  PipeOpenOne(&p->Logger, &ProviderM);
  PipeOpenOne(&p->Audit, &ProviderL);
}

__declspec(noinline) void PipeWrite(LOGGER_L *l, PCEVENT_DESCRIPTOR d) { EventWrite(l->Handle, d, 0, 0); }

__declspec(dllexport) void PipeRun(PIPE *p) {
  PipeOpen(p);
  PipeWrite(p->Logger, &MStart);
  PipeWrite(p->Audit, &LAudit);
}

/* An activity object on the stack whose constructor stores the REGHANDLE global's address in it
 * (d3d11.dll, d3d10core.dll): the write reads the handle through that member. */
static const GUID ProviderT = {0x5e1a0018, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const EVENT_DESCRIPTOR TStart = {390, 0, 0x10, 4, 1, 30, 0x8000000000000000ULL};
static REGHANDLE HandleT;
typedef struct {
  ULONG Flags;
  ULONG Level;
  REGHANDLE *Handle;
} ACTIVITY_T;

__declspec(noinline) void ActivityConstruct(ACTIVITY_T *a, REGHANDLE *h) {
  a->Flags = 0;
  a->Level = 4;
  a->Handle = h;
}

__declspec(noinline) void ActivityWrite(ACTIVITY_T *a, PCEVENT_DESCRIPTOR d) { EventWrite(*a->Handle, d, 0, 0); }

__declspec(dllexport) void StartT(void) { EventRegister(&ProviderT, 0, 0, &HandleT); }

__declspec(dllexport) void WriteTStart(void) {
  ACTIVITY_T a;
  ActivityConstruct(&a, &HandleT);
  ActivityWrite(&a, &TStart);
}

/* A handle read through a data import (umpoext.dll reads umpo.dll's exported PtrUmpoProviderHandle):
 * another module registers it; no provider here, counted apart. The fixture borrows an ntdll data
 * export for the import's shape (the code is never run). */
extern __declspec(dllimport) REGHANDLE NlsAnsiCodePage;
static const GUID ProviderX = {0x5e1a0019, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
__attribute__((used)) static const GUID *XGuid = &ProviderX; /* its GUID is in the image */
static const EVENT_DESCRIPTOR XStart = {400, 0, 0x10, 4, 1, 31, 0x8000000000000000ULL};

__declspec(dllexport) void WriteImported(void) { EventWrite(NlsAnsiCodePage, &XStart, 0, 0); }

/* A logger object on the heap holding a copy of the REGHANDLE global's value, kept in a field of a
 * heap session object (gpsvc.dll: CLogger at [session+110h], written with [[session+110h]]): every
 * store of that field is the constructor's result (handle = the global's value) or null. */
static const GUID ProviderG2 = {0x5e1a0020, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const EVENT_DESCRIPTOR G2Start = {500, 0, 0x10, 4, 1, 32, 0x8000000000000000ULL};
static REGHANDLE HandleG2;
typedef struct {
  REGHANDLE Handle;
  void *Context;
} LOGGER_G2;
typedef struct {
  ULONG State;
  char Pad[0x1e4];
  LOGGER_G2 *Logger; /* at 1E8h */
} SESSION_G2;

__declspec(noinline) LOGGER_G2 *LoggerG2Construct(LOGGER_G2 *l, REGHANDLE h, void *ctx) {
  LOGGER_G2 *volatile self = l; /* returned as gpsvc's is: in RAX, not known to the caller */
  l->Handle = h;
  l->Context = ctx;
  return self;
}

__declspec(noinline) void LoggerG2Write(LOGGER_G2 *l, PCEVENT_DESCRIPTOR d) { EventWrite(l->Handle, d, 0, 0); }

__declspec(dllexport) void StartG2(void) { EventRegister(&ProviderG2, 0, 0, &HandleG2); }

__declspec(dllexport) void OpenG2(SESSION_G2 *s) {
  LOGGER_G2 *m = HeapAlloc(GetProcessHeap(), 0, sizeof(LOGGER_G2));
  if (!m) {
    s->Logger = 0;
    return;
  }
  s->Logger = LoggerG2Construct(m, HandleG2, s);
}

__declspec(dllexport) void CloseG2(SESSION_G2 *s) { s->Logger = 0; }

__declspec(dllexport) void WriteG2Start(SESSION_G2 *s) { LoggerG2Write(s->Logger, &G2Start); }

/* ---- 9. Handles reached through run-once getters, copied objects and singleton classes ---- */

/* A trace singleton made by InitOnceExecuteOnce (vcamp140.dll's _Get_amp_trace): the init function
 * allocates the handle block, publishes it in the trace object (TraceS2Register stores its
 * parameter in TraceS2.Block and registers into it) and hands the object out through the
 * run-once Context; the getter checks its /GS cookie before returning what it loaded. The write
 * reads [[TraceS2.Block]]. The cookie check and the load config naming the cookie are written
 * by hand, as the fixture is built without the CRT. */
static const GUID ProviderS2 = {0x5e1a0021, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const EVENT_DESCRIPTOR S2Start = {510, 0, 0x10, 4, 1, 33, 0x8000000000000000ULL};
typedef struct {
  REGHANDLE Handle;
  ULONG Enabled;
} BLOCK_S2;
typedef struct {
  ULONG Count;
  BLOCK_S2 *Block; /* at 8 */
} TRACE_S2;
__attribute__((used)) TRACE_S2 TraceS2;
__attribute__((used)) INIT_ONCE TraceS2Once;
__attribute__((used)) ULONGLONG FixtureCookie = 0x2b992ddfa232ULL;

const IMAGE_LOAD_CONFIG_DIRECTORY64 _load_config_used = {
    .Size = sizeof(IMAGE_LOAD_CONFIG_DIRECTORY64),
    .SecurityCookie = (ULONGLONG)&FixtureCookie,
};

__declspec(noinline) __attribute__((used)) void TraceS2Register(BLOCK_S2 *b) {
  TraceS2.Block = b;
  EventRegister(&ProviderS2, 0, 0, &b->Handle);
}

__attribute__((used)) BOOL CALLBACK TraceS2Init(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  (void)once;
  (void)param;
  TraceS2Register(HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(BLOCK_S2)));
  *ctx = &TraceS2;
  return TRUE;
}

__attribute__((used, noreturn)) void CookieFailureS2(void) {
  for (;;) __asm__ volatile("int3");
}

__asm__(".section .text$s2cookie,\"xr\"\n"
        ".globl CheckCookieS2\n"
        "CheckCookieS2:\n"
        "cmp FixtureCookie(%rip), %rcx\n"
        "jne 1f\n"
        "ret\n"
        "1: jmp CookieFailureS2\n");

/* ctx = 0; InitOnceExecuteOnce(&TraceS2Once, TraceS2Init, 0, &ctx); check the cookie; return ctx. */
__declspec(noinline) __attribute__((naked, used)) TRACE_S2 *GetTraceS2(void) {
  __asm__("sub $0x38, %rsp\n"
          "mov FixtureCookie(%rip), %rax\n"
          "xor %rsp, %rax\n"
          "mov %rax, 0x28(%rsp)\n"
          "movq $0, 0x20(%rsp)\n"
          "lea 0x20(%rsp), %r9\n"
          "xor %r8d, %r8d\n"
          "lea TraceS2Init(%rip), %rdx\n"
          "lea TraceS2Once(%rip), %rcx\n"
          "call *__imp_InitOnceExecuteOnce(%rip)\n"
          "mov 0x20(%rsp), %rax\n"
          "mov 0x28(%rsp), %rcx\n"
          "xor %rsp, %rcx\n"
          "call CheckCookieS2\n"
          "add $0x38, %rsp\n"
          "ret\n");
}

__declspec(dllexport) void WriteS2Start(void) {
  TRACE_S2 *t = GetTraceS2();
  EventWrite(t->Block->Handle, &S2Start, 0, 0);
}

/* A logger held by a global (LoggerH2, registered at +8) copied into a stack config by a function
 * with a frame pointer set in its prologue (`lea rbp,[rsp-40h]; sub rsp,90h`: the config is filled
 * through RBP and passed through RSP), handed down two calls and stored into a decoder field at
 * 1D80h (msmpeg2vdec.dll's [[decoder+25D80h]+8]). Every store of that field puts the global's
 * logger there, so DecodeH2's write reads LoggerH2's handle. AttachH2, an export, stores the
 * field at 1D88h (DecodeOtherH2's) from its own parameter: no caller in the image says what. */
static const GUID ProviderH2 = {0x5e1a0022, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const EVENT_DESCRIPTOR H2Start = {520, 0, 0x10, 4, 1, 34, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR H2Other = {521, 0, 0x10, 4, 0, 34, 0x8000000000000000ULL};
typedef struct {
  ULONG Flags;
  REGHANDLE Handle; /* at 8 */
} LOGGER_H2;
typedef struct {
  char Pad[0x40];
  LOGGER_H2 *Logger; /* at 40h */
} CONFIG_H2;
typedef struct {
  ULONG State;
  char Pad[0x1d7c];
  LOGGER_H2 *Logger; /* at 1D80h */
  LOGGER_H2 *Other;  /* at 1D88h */
} DECODER_H2;
__attribute__((used)) LOGGER_H2 *LoggerH2;

__declspec(dllexport) void StartH2(void) {
  LoggerH2 = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(LOGGER_H2));
  if (LoggerH2) EventRegister(&ProviderH2, 0, 0, &LoggerH2->Handle);
}

__declspec(noinline) __attribute__((used)) void StoreLoggerH2(DECODER_H2 *d, CONFIG_H2 *c) {
  d->Logger = c->Logger;
}

__declspec(noinline) __attribute__((used)) void SetupH2(CONFIG_H2 *c, DECODER_H2 *d) {
  d->State = 1;
  StoreLoggerH2(d, c);
  d->State = 2;
}

/* config at [rsp+20h]; RBP = RSP + 50h after the prologue, so its Logger (+40h) is [rbp+10h]. */
__declspec(dllexport) __attribute__((naked)) void CreateDecoderH2(DECODER_H2 *d) {
  __asm__("push %rbp\n"
          "lea -0x40(%rsp), %rbp\n"
          "sub $0x90, %rsp\n"
          "mov LoggerH2(%rip), %rax\n"
          "mov %rax, 0x10(%rbp)\n"
          "mov %rcx, %rdx\n"
          "lea 0x20(%rsp), %rcx\n"
          "call SetupH2\n"
          "add $0x90, %rsp\n"
          "pop %rbp\n"
          "ret\n");
}

__declspec(dllexport) void AttachH2(DECODER_H2 *d, CONFIG_H2 *c) { d->Other = c->Logger; }

__declspec(dllexport) void DecodeH2(DECODER_H2 *d) { EventWrite(d->Logger->Handle, &H2Start, 0, 0); }

__declspec(dllexport) void DecodeOtherH2(DECODER_H2 *d) { EventWrite(d->Other->Handle, &H2Other, 0, 0); }

/* Exported members of a class whose exported getter returns its one static instance
 * (vcamp140.dll's _Amp_runtime_trace): `this` of ?Write@Trace@Fix@@QEAAXXZ is TraceM2, registered
 * at +8. Class Other exports a constructor (??0Other@Fix@@QEAA@XZ), so other modules may make
 * instances: its member's write stays without provider although its getter returns TraceM2 too. */
static const GUID ProviderM2 = {0x5e1a0023, 0x1b2c, 0x4d3e, {0x8f, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76}};
static const EVENT_DESCRIPTOR M2Start = {530, 0, 0x10, 4, 1, 35, 0x8000000000000000ULL};
static const EVENT_DESCRIPTOR M2Other = {531, 0, 0x10, 4, 0, 35, 0x8000000000000000ULL};
typedef struct {
  ULONG Count;
  REGHANDLE Handle; /* at 8 */
} TRACE_M2;
__attribute__((used)) TRACE_M2 TraceM2;

__declspec(dllexport) void StartM2(void) { EventRegister(&ProviderM2, 0, 0, &TraceM2.Handle); }

__declspec(dllexport) TRACE_M2 *GetTraceM2(void) __asm__("?GetTrace@Fix@@YAPEAVTrace@1@XZ");
TRACE_M2 *GetTraceM2(void) { return &TraceM2; }

__declspec(dllexport) void TraceWriteM2(TRACE_M2 *self) __asm__("?Write@Trace@Fix@@QEAAXXZ");
void TraceWriteM2(TRACE_M2 *self) { EventWrite(self->Handle, &M2Start, 0, 0); }

__declspec(dllexport) void OtherConstructM2(TRACE_M2 *self) __asm__("??0Other@Fix@@QEAA@XZ");
void OtherConstructM2(TRACE_M2 *self) { self->Count = 0; }

__declspec(dllexport) TRACE_M2 *GetOtherM2(void) __asm__("?GetOther@Fix@@YAPEAVOther@1@XZ");
TRACE_M2 *GetOtherM2(void) { return &TraceM2; }

__declspec(dllexport) void OtherWriteM2(TRACE_M2 *self) __asm__("?Write@Other@Fix@@QEAAXXZ");
void OtherWriteM2(TRACE_M2 *self) { EventWrite(self->Handle, &M2Other, 0, 0); }
