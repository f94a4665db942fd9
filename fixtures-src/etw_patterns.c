/* Kernel driver reproducing the call-site patterns the API -> ETW analysis must resolve (the
   seed article's patterns, as ntoskrnl uses them):
   - global RegHandle + EVENT_DESCRIPTOR globals, registered in DriverEntry (AuditRegHandle);
   - an mc.exe-style trace context (REGHANDLE first field) registered through a wrapper
     (McGenEventRegister) and written through a template wrapper (McTemplateK0d) taking the
     context and the descriptor — values come from the wrapper's callers;
   - exported Nt* functions calling Ps / Pop internals that call EtwWrite (call paths of depth 2-3);
   - a descriptor built on the stack (EventDescCreate) and one copied from a global;
   - register, write, unregister in one function with a local handle (locality);
   - EtwTraceKernelEvent(data, count, group mask, hook id, flags) with constants
     (PERF_MEMINFO 0x20080000 / PERFINFO_LOG_TYPE_MM_STATS 0x027C, and PERF_PROCESS / PROCESS_CREATE);
   - a dispatch routine assigned to DRIVER_OBJECT.MajorFunction[IRP_MJ_DEVICE_CONTROL].
   The expected analysis rows are in etw_patterns.expected.json next to this file. */
#include <ntddk.h>

/* {0d3c4b5a-6978-4a1b-9c2d-3e4f50617283} */
const GUID AuditProviderGuid = {0x0d3c4b5a, 0x6978, 0x4a1b, {0x9c, 0x2d, 0x3e, 0x4f, 0x50, 0x61, 0x72, 0x83}};
/* {a1b2c3d4-e5f6-4711-8899-aabbccddeeff} */
const GUID PowerProviderGuid = {0xa1b2c3d4, 0xe5f6, 0x4711, {0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}};
/* {5e6f7081-92a3-4b4c-8d9e-afb0c1d2e3f4} */
const GUID SelfTestProviderGuid = {0x5e6f7081, 0x92a3, 0x4b4c, {0x8d, 0x9e, 0xaf, 0xb0, 0xc1, 0xd2, 0xe3, 0xf4}};

const EVENT_DESCRIPTOR AUDIT_OPEN_WIDGET = {5, 0, 0x10, 4, 0, 5, 0x8000000000000000ULL};
const EVENT_DESCRIPTOR AUDIT_CLOSE_WIDGET = {6, 1, 0x10, 4, 0, 6, 0x8000000000000000ULL};
const EVENT_DESCRIPTOR AUDIT_COPY_TEMPLATE = {7, 0, 0x10, 3, 0, 7, 0x8000000000000001ULL};
const EVENT_DESCRIPTOR POWER_EVENT_SLEEP = {16, 0, 0x10, 4, 1, 37, 0x4000000000000808ULL};
const EVENT_DESCRIPTOR POWER_EVENT_WAKE = {17, 0, 0x10, 4, 2, 37, 0x4000000000000808ULL};
const EVENT_DESCRIPTOR SELFTEST_EVENT = {100, 0, 0, 5, 0, 0, 0x1ULL};

REGHANDLE AuditRegHandle;

/* mc.exe's MCGEN_TRACE_CONTEXT starts with the registration handle. */
typedef struct _TRACE_CONTEXT {
  REGHANDLE RegistrationHandle;
  ULONGLONG Logger;
  ULONGLONG MatchAnyKeyword;
} TRACE_CONTEXT;
TRACE_CONTEXT PowerContext;

volatile ULONG WidgetState;

__declspec(noinline) NTSTATUS McGenEventRegister(const GUID *provider, PETWENABLECALLBACK callback, PVOID context,
                                                 PREGHANDLE handle) {
  return EtwRegister(provider, callback, context, handle);
}

__declspec(noinline) NTSTATUS McTemplateK0d(TRACE_CONTEXT *context, PCEVENT_DESCRIPTOR descriptor, ULONG value) {
  EVENT_DATA_DESCRIPTOR data;
  EventDataDescCreate(&data, &value, sizeof value);
  return EtwWrite(context->RegistrationHandle, descriptor, NULL, 1, &data);
}

/* Legacy kernel logger entry (internal to ntoskrnl; here a stand-in with the same signature). */
__declspec(noinline) VOID EtwTraceKernelEvent(PEVENT_DATA_DESCRIPTOR data, ULONG count, ULONG groupMask, USHORT hookId,
                                              ULONG flags) {
  WidgetState += count + groupMask + hookId + flags + (ULONG)(ULONG_PTR)data;
}

__declspec(noinline) NTSTATUS PsOpenWidget(ULONG id) {
  EVENT_DATA_DESCRIPTOR data;
  WidgetState = id;
  EventDataDescCreate(&data, &id, sizeof id);
  return EtwWrite(AuditRegHandle, &AUDIT_OPEN_WIDGET, NULL, 1, &data);
}

__declspec(noinline) VOID PspLogCloseWidget(ULONG id) {
  EVENT_DATA_DESCRIPTOR data;
  EventDataDescCreate(&data, &id, sizeof id);
  EtwWriteTransfer(AuditRegHandle, &AUDIT_CLOSE_WIDGET, NULL, NULL, 1, &data);
}

__declspec(noinline) NTSTATUS PsCloseWidget(ULONG id) {
  if (WidgetState != id) return STATUS_INVALID_HANDLE;
  WidgetState = 0;
  PspLogCloseWidget(id);
  return STATUS_SUCCESS;
}

/* Descriptor built on the stack from constants. */
__declspec(noinline) VOID PspLogWidgetQuery(ULONG id) {
  EVENT_DESCRIPTOR descriptor;
  EVENT_DATA_DESCRIPTOR data;
  EventDescCreate(&descriptor, 42, 1, 0x11, 5, 9, 3, 0x20ULL);
  EventDataDescCreate(&data, &id, sizeof id);
  EtwWrite(AuditRegHandle, &descriptor, NULL, 1, &data);
}

/* Descriptor copied from a global into a local, then changed: the stack copy is what is written. */
__declspec(noinline) VOID PspLogWidgetCopy(ULONG id) {
  EVENT_DESCRIPTOR descriptor = AUDIT_COPY_TEMPLATE;
  EVENT_DATA_DESCRIPTOR data;
  descriptor.Level = 2;
  EventDataDescCreate(&data, &id, sizeof id);
  EtwWrite(AuditRegHandle, &descriptor, NULL, 1, &data);
}

__declspec(noinline) VOID PopTraceSleep(ULONG reason) { McTemplateK0d(&PowerContext, &POWER_EVENT_SLEEP, reason); }
__declspec(noinline) VOID PopTraceWake(ULONG reason) { McTemplateK0d(&PowerContext, &POWER_EVENT_WAKE, reason); }

/* Register, write, unregister in one function with a local handle. */
__declspec(noinline) NTSTATUS PsSelfTest(VOID) {
  REGHANDLE handle;
  NTSTATUS status = EtwRegister(&SelfTestProviderGuid, NULL, NULL, &handle);
  if (!NT_SUCCESS(status)) return status;
  EtwWrite(handle, &SELFTEST_EVENT, NULL, 0, NULL);
  EtwUnregister(handle);
  return status;
}

__declspec(noinline) VOID MmLogQueryCombineStats(ULONG pages) {
  EVENT_DATA_DESCRIPTOR data;
  EventDataDescCreate(&data, &pages, sizeof pages);
  EtwTraceKernelEvent(&data, 1, 0x20080000, 0x027C, 0x401802);
}

/* PERF_PROCESS 0x00000001, PERFINFO_LOG_TYPE_PROCESS_CREATE 0x0301 (MOF: Process, event type 1). */
__declspec(noinline) VOID PspLogWidgetProcess(ULONG pid) {
  EVENT_DATA_DESCRIPTOR data;
  EventDataDescCreate(&data, &pid, sizeof pid);
  EtwTraceKernelEvent(&data, 1, 0x00000001, 0x0301, 0x401802);
}

__declspec(dllexport) NTSTATUS NtOpenWidget(ULONG id) { return PsOpenWidget(id); }
__declspec(dllexport) NTSTATUS NtCloseWidget(ULONG id) { return PsCloseWidget(id) == STATUS_SUCCESS ? 0 : 1; }
__declspec(dllexport) NTSTATUS NtQueryWidget(ULONG id) {
  PspLogWidgetQuery(id);
  PspLogWidgetCopy(id);
  return STATUS_SUCCESS;
}
__declspec(dllexport) NTSTATUS NtSetWidgetPower(ULONG state) {
  if (state) PopTraceSleep(state);
  else PopTraceWake(state);
  return STATUS_SUCCESS;
}
__declspec(dllexport) NTSTATUS NtSelfTestWidget(VOID) { return PsSelfTest(); }
__declspec(dllexport) NTSTATUS NtCreateWidgetProcess(ULONG pid) {
  PspLogWidgetProcess(pid);
  return STATUS_SUCCESS;
}
__declspec(dllexport) NTSTATUS NtQueryWidgetStats(ULONG pages) {
  MmLogQueryCombineStats(pages);
  return STATUS_SUCCESS;
}

static NTSTATUS DispatchDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  (void)device;
  irp->IoStatus.Status = PsOpenWidget((ULONG)(ULONG_PTR)irp->AssociatedIrp.SystemBuffer);
  return irp->IoStatus.Status;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath) {
  NTSTATUS status;
  (void)registryPath;
  status = EtwRegister(&AuditProviderGuid, NULL, NULL, &AuditRegHandle);
  if (!NT_SUCCESS(status)) return status;
  status = McGenEventRegister(&PowerProviderGuid, NULL, &PowerContext, &PowerContext.RegistrationHandle);
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchDeviceControl;
  return status;
}
