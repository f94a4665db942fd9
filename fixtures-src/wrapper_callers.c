/* A kernel driver whose one event-write wrapper has 640 callers, each passing the address of one
   of 8 EVENT_DESCRIPTOR globals (the shape of an MC-generated McTemplate wrapper in a large display
   driver, where one template had 1,809 callers). Every one of the 640 write sites resolves to its
   descriptor: the analysis has no fixed cap on a wrapper's callers. */
#include <ntddk.h>

/* {5a1c0d3e-7b2f-4e61-9c8d-0f1e2d3c4b5a} */
const GUID ManyProviderGuid = {0x5a1c0d3e, 0x7b2f, 0x4e61, {0x9c, 0x8d, 0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a}};
REGHANDLE ManyRegHandle;
ULONG ManyWrites;

const EVENT_DESCRIPTOR ManyEvent0 = {100, 0, 0, 4, 0, 0, 0x1ULL};
const EVENT_DESCRIPTOR ManyEvent1 = {101, 0, 0, 4, 0, 0, 0x1ULL};
const EVENT_DESCRIPTOR ManyEvent2 = {102, 0, 0, 4, 0, 0, 0x1ULL};
const EVENT_DESCRIPTOR ManyEvent3 = {103, 0, 0, 4, 0, 0, 0x1ULL};
const EVENT_DESCRIPTOR ManyEvent4 = {104, 1, 0, 4, 0, 0, 0x1ULL};
const EVENT_DESCRIPTOR ManyEvent5 = {105, 1, 0, 4, 0, 0, 0x1ULL};
const EVENT_DESCRIPTOR ManyEvent6 = {106, 1, 0, 4, 0, 0, 0x1ULL};
const EVENT_DESCRIPTOR ManyEvent7 = {107, 1, 0, 4, 0, 0, 0x1ULL};

static __declspec(noinline) NTSTATUS McTemplateK0d(PCEVENT_DESCRIPTOR descriptor, ULONG value) {
  EVENT_DATA_DESCRIPTOR data;
  EventDataDescCreate(&data, &value, sizeof value);
  return EtwWrite(ManyRegHandle, descriptor, NULL, 1, &data);
}

typedef NTSTATUS (*CALLER)(ULONG);
/* Caller n writes ManyEvent(n % 8); noinline keeps 640 distinct call sites, and the count after
   the call keeps it a call (not a tail jump). */
#define CALLER_FN(n, e) \
  static __declspec(noinline) NTSTATUS Caller##n(ULONG v) { \
    NTSTATUS s = McTemplateK0d(&ManyEvent##e, v + n); \
    ManyWrites++; \
    return s; \
  }
#define EIGHT(p) \
  CALLER_FN(p##0, 0) CALLER_FN(p##1, 1) CALLER_FN(p##2, 2) CALLER_FN(p##3, 3) \
  CALLER_FN(p##4, 4) CALLER_FN(p##5, 5) CALLER_FN(p##6, 6) CALLER_FN(p##7, 7)
#define SIXTY4(p) EIGHT(p##0) EIGHT(p##1) EIGHT(p##2) EIGHT(p##3) EIGHT(p##4) EIGHT(p##5) EIGHT(p##6) EIGHT(p##7)
#define NAMES8(p) Caller##p##0, Caller##p##1, Caller##p##2, Caller##p##3, \
  Caller##p##4, Caller##p##5, Caller##p##6, Caller##p##7
#define NAMES64(p) NAMES8(p##0), NAMES8(p##1), NAMES8(p##2), NAMES8(p##3), \
  NAMES8(p##4), NAMES8(p##5), NAMES8(p##6), NAMES8(p##7)

/* 10 groups of 64 = 640 callers (more than the 512 the analysis once stopped at). */
SIXTY4(10) SIXTY4(11) SIXTY4(12) SIXTY4(13) SIXTY4(14) SIXTY4(15) SIXTY4(16) SIXTY4(17)
SIXTY4(20) SIXTY4(21)

static const CALLER Callers[] = {
  NAMES64(10), NAMES64(11), NAMES64(12), NAMES64(13), NAMES64(14), NAMES64(15), NAMES64(16), NAMES64(17),
  NAMES64(20), NAMES64(21),
};

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath) {
  NTSTATUS status;
  ULONG i;
  (void)driver;
  (void)registryPath;
  status = EtwRegister(&ManyProviderGuid, NULL, NULL, &ManyRegHandle);
  if (!NT_SUCCESS(status)) return status;
  for (i = 0; i < sizeof Callers / sizeof Callers[0]; i++) Callers[i](i);
  return STATUS_SUCCESS;
}
