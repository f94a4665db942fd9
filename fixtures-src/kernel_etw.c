/* Kernel-mode driver with a manifest-style ETW provider (EtwRegister / EtwWrite from ntoskrnl).
   No `__annotation` (WPP TMF) here: lld-link-14 blanks S_ANNOTATION records into S_SKIP, so an
   lld-built PDB cannot carry them (real MSVC PDBs in the corpus do). */
#include <ntddk.h>

/* {8c5e7a10-2b3c-4d4e-8f50-617283940a1b} */
const GUID DriverProviderGuid = {0x8c5e7a10, 0x2b3c, 0x4d4e, {0x8f, 0x50, 0x61, 0x72, 0x83, 0x94, 0x0a, 0x1b}};

const EVENT_DESCRIPTOR DriverLoadEvent = {10, 0, 0x11, 4, 1, 10, 0x4000000000000001ULL};
const EVENT_DESCRIPTOR DriverUnloadEvent = {11, 0, 0x11, 4, 2, 10, 0x4000000000000001ULL};
const EVENT_DESCRIPTOR DriverIoEvent = {12, 2, 0x11, 5, 0, 11, 0x4000000000000002ULL};

REGHANDLE DriverRegHandle;
static ULONG DriverIoCount;

static __declspec(noinline) NTSTATUS WriteStatus(PCEVENT_DESCRIPTOR descriptor, NTSTATUS status) {
  EVENT_DATA_DESCRIPTOR data;
  EventDataDescCreate(&data, &status, sizeof status);
  return EtwWrite(DriverRegHandle, descriptor, NULL, 1, &data);
}

static VOID DriverUnload(PDRIVER_OBJECT driver) {
  (void)driver;
  WriteStatus(&DriverUnloadEvent, STATUS_SUCCESS);
  EtwUnregister(DriverRegHandle);
}

__declspec(noinline) NTSTATUS DriverTraceIo(ULONG code, ULONG length) {
  EVENT_DATA_DESCRIPTOR data[2];
  DriverIoCount++;
  EventDataDescCreate(&data[0], &code, sizeof code);
  EventDataDescCreate(&data[1], &length, sizeof length);
  return EtwWrite(DriverRegHandle, &DriverIoEvent, NULL, 2, data);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath) {
  NTSTATUS status;
  (void)registryPath;
  status = EtwRegister(&DriverProviderGuid, NULL, NULL, &DriverRegHandle);
  if (!NT_SUCCESS(status)) return status;
  driver->DriverUnload = DriverUnload;
  DriverTraceIo(0x22e004, 0);
  return WriteStatus(&DriverLoadEvent, status);
}
