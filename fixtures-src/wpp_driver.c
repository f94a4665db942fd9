/* Kernel-mode driver with WPP software tracing, written the way tracewpp's generated .tmh expands
   (km-init.tpl / tracemacro.tpl): a control-GUID annotation (TMC:) in the init code, and at every
   trace call a TMF: annotation followed by an enable test on WPP_GLOBAL_Control and a call to a
   WPP_SF_<sig> function that traces through the pfnWppTraceMessage pointer (WmiTraceMessage,
   resolved at run time with MmGetSystemRoutineAddress, as WppLoadTracingSupport does).
   The annotation strings below are what tests compare against: keep them literal. */
#include <ntddk.h>

#define WPP_TRACE_OPTIONS 0x2B /* SEQUENCE | GUID | SYSTEMINFO | TIMESTAMP */

typedef NTSTATUS (*PFN_WPPTRACEMESSAGE)(TRACEHANDLE LoggerHandle, ULONG MessageFlags, LPCGUID MessageGuid,
                                         USHORT MessageNumber, ...);

/* WPP_TRACE_CONTROL_BLOCK (km): one per control GUID. */
typedef struct _WPP_TRACE_CONTROL_BLOCK {
  PVOID Callback;
  LPCGUID ControlGuid;
  struct _WPP_TRACE_CONTROL_BLOCK *Next;
  LONG64 Logger;
  PUNICODE_STRING RegistryPath;
  UCHAR FlagsLen;
  UCHAR Level;
  USHORT Reserved;
  ULONG Flags[1];
  ULONG ReservedFlags;
  ULONG64 RegHandle;
} WPP_TRACE_CONTROL_BLOCK;

/* WPP_DEFINE_CONTROL_GUID(WppAtlasDriver, (5f0c9a3e,6d21,4b7a,9e40,3c1d2b8a7f65),
     WPP_DEFINE_BIT(TRACE_DRIVER) WPP_DEFINE_BIT(TRACE_QUEUE) WPP_DEFINE_BIT(TRACE_IO) WPP_DEFINE_BIT(TRACE_POWER)) */
const GUID WPP_ThisDir_CTLGUID_WppAtlasDriver = {0x5f0c9a3e, 0x6d21, 0x4b7a, {0x9e, 0x40, 0x3c, 0x1d, 0x2b, 0x8a, 0x7f, 0x65}};
/* Message GUID of this source file (the .tmf file name). */
const GUID WPP_a1b2c3d4e5f60718293a4b5c6d7e8f90_Traceguids[] = {
    {0xa1b2c3d4, 0xe5f6, 0x0718, {0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90}}};

WPP_TRACE_CONTROL_BLOCK WPP_MAIN_CB[1];
WPP_TRACE_CONTROL_BLOCK *WPP_GLOBAL_Control = (WPP_TRACE_CONTROL_BLOCK *)&WPP_GLOBAL_Control;
PFN_WPPTRACEMESSAGE pfnWppTraceMessage;

#define WPP_ENABLED(bit) \
  (WPP_GLOBAL_Control != (WPP_TRACE_CONTROL_BLOCK *)&WPP_GLOBAL_Control && (WPP_GLOBAL_Control->Flags[0] & (1u << (bit))))
#define WPP_LOGGER ((TRACEHANDLE)WPP_GLOBAL_Control->Logger)
#define WPP_GUID (&WPP_a1b2c3d4e5f60718293a4b5c6d7e8f90_Traceguids[0])

__declspec(noinline) void WPP_SF_(TRACEHANDLE logger, USHORT id, LPCGUID guid) {
  pfnWppTraceMessage(logger, WPP_TRACE_OPTIONS, guid, id, NULL);
}
__declspec(noinline) void WPP_SF_s(TRACEHANDLE logger, USHORT id, LPCGUID guid, NTSTATUS a1) {
  pfnWppTraceMessage(logger, WPP_TRACE_OPTIONS, guid, id, &a1, sizeof a1, NULL);
}
__declspec(noinline) void WPP_SF_dDp(TRACEHANDLE logger, USHORT id, LPCGUID guid, int a1, unsigned a2, const void *a3) {
  pfnWppTraceMessage(logger, WPP_TRACE_OPTIONS, guid, id, &a1, sizeof a1, &a2, sizeof a2, &a3, sizeof a3, NULL);
}
__declspec(noinline) void WPP_SF_sSi(TRACEHANDLE logger, USHORT id, LPCGUID guid, const char *a1, const WCHAR *a2,
                                     LONG64 a3) {
  pfnWppTraceMessage(logger, WPP_TRACE_OPTIONS, guid, id, a1, strlen(a1) + 1, a2, (wcslen(a2) + 1) * 2, &a3,
                     sizeof a3, NULL);
}
__declspec(noinline) void WPP_SF_guid_wZ(TRACEHANDLE logger, USHORT id, LPCGUID guid, LPCGUID a1, PCUNICODE_STRING a2) {
  pfnWppTraceMessage(logger, WPP_TRACE_OPTIONS, guid, id, a1, sizeof *a1, &a2->Length, sizeof a2->Length, a2->Buffer,
                     (SIZE_T)a2->Length, NULL);
}
__declspec(noinline) void WPP_SF_DcHhq(TRACEHANDLE logger, USHORT id, LPCGUID guid, ULONG a1, char a2, short a3,
                                       ULONG64 a4) {
  pfnWppTraceMessage(logger, WPP_TRACE_OPTIONS, guid, id, &a1, sizeof a1, &a2, sizeof a2, &a3, sizeof a3, &a4,
                     sizeof a4, NULL);
}

static ULONG QueueDepth;

__declspec(noinline) NTSTATUS QueueRequest(ULONG code, const void *request, LONG64 offset) {
  QueueDepth++;
  __annotation(L"TMF:", L"a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90 WppAtlasDriver // SRC=wpp_driver.c MJ= MN=",
               L"#typev wpp_driver_c73 10 \"%0 queued request code=%10!d! depth=%11!u! request=%12!p!\" //   LEVEL=TRACE_LEVEL_VERBOSE FLAGS=TRACE_QUEUE FUNC=QueueRequest",
               L"{", L"(int)code, ItemLong -- 10", L"QueueDepth, ItemLong -- 11", L"request, ItemPtr -- 12", L"}");
  if (WPP_ENABLED(1)) WPP_SF_dDp(WPP_LOGGER, 10, WPP_GUID, (int)code, QueueDepth, request);
  if (offset < 0) {
    __annotation(L"TMF:", L"a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90 WppAtlasDriver // SRC=wpp_driver.c MJ= MN=",
                 L"#typev wpp_driver_c78 11 \"%0 bad offset in \\\"%10!s!\\\" (%11!ws!): %12!I64d!\" //   LEVEL=TRACE_LEVEL_ERROR FLAGS=TRACE_IO FUNC=QueueRequest",
                 L"{", L"\"QueueRequest\", ItemString -- 10", L"L\"queue\", ItemWString -- 11", L"offset, ItemLongLong -- 12",
                 L"}");
    if (WPP_ENABLED(2)) WPP_SF_sSi(WPP_LOGGER, 11, WPP_GUID, "QueueRequest", L"queue", offset);
    return STATUS_INVALID_PARAMETER;
  }
  return STATUS_SUCCESS;
}

__declspec(noinline) void PowerTransition(ULONG state, char tag, short delta, ULONG64 cookie) {
  __annotation(L"TMF:", L"a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90 WppAtlasDriver // SRC=wpp_driver.c MJ= MN=",
               L"#typev wpp_driver_c89 12 \"%0 power %10!s! tag=%11!c! delta=%12!hd! cookie=%13!I64x!\" //   LEVEL=TRACE_LEVEL_INFORMATION FLAGS=TRACE_POWER FUNC=PowerTransition",
               L"{", L"state, ItemListLong(D0,D1,D2,D3) -- 10", L"tag, ItemChar -- 11", L"delta, ItemShort -- 12",
               L"cookie, ItemULongLongX -- 13", L"}");
  if (WPP_ENABLED(3)) WPP_SF_DcHhq(WPP_LOGGER, 12, WPP_GUID, state, tag, delta, cookie);
}

static VOID DriverUnload(PDRIVER_OBJECT driver) {
  (void)driver;
  __annotation(L"TMF:", L"a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90 WppAtlasDriver // SRC=wpp_driver.c MJ= MN=",
               L"#typev wpp_driver_c98 13 \"%0 driver unloading\" //   LEVEL=TRACE_LEVEL_INFORMATION FLAGS=TRACE_DRIVER FUNC=DriverUnload",
               L"{", L"}", L"PUBLIC_TMF:");
  if (WPP_ENABLED(0)) WPP_SF_(WPP_LOGGER, 13, WPP_GUID);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath) {
  UNICODE_STRING name;
  NTSTATUS status = STATUS_SUCCESS;
  /* WPP_INIT_TRACING: control annotation, then WppLoadTracingSupport + registration. */
  __annotation(L"TMC:", L"5f0c9a3e-6d21-4b7a-9e40-3c1d2b8a7f65", L"WppAtlasDriver", L"TRACE_DRIVER", L"TRACE_QUEUE",
               L"TRACE_IO", L"TRACE_POWER");
  RtlInitUnicodeString(&name, L"WmiTraceMessage");
  pfnWppTraceMessage = (PFN_WPPTRACEMESSAGE)MmGetSystemRoutineAddress(&name);
  WPP_MAIN_CB[0].ControlGuid = &WPP_ThisDir_CTLGUID_WppAtlasDriver;
  WPP_MAIN_CB[0].RegistryPath = registryPath;
  WPP_GLOBAL_Control = WPP_MAIN_CB;

  __annotation(L"TMF:", L"a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90 WppAtlasDriver // SRC=wpp_driver.c MJ= MN=",
               L"#typev wpp_driver_c116 14 \"%0 DriverEntry control=%10!s! registry=%11!wZ! status=%12!s!\" //   LEVEL=TRACE_LEVEL_INFORMATION FLAGS=TRACE_DRIVER FUNC=DriverEntry",
               L"{", L"&WPP_ThisDir_CTLGUID_WppAtlasDriver, ItemGuid -- 10", L"registryPath, ItemPWString -- 11",
               L"status, ItemNTSTATUS -- 12", L"}");
  if (WPP_ENABLED(0)) WPP_SF_guid_wZ(WPP_LOGGER, 14, WPP_GUID, &WPP_ThisDir_CTLGUID_WppAtlasDriver, registryPath);
  driver->DriverUnload = DriverUnload;
  status = QueueRequest(0x22e004, driver, 0);
  if (!NT_SUCCESS(status)) {
    __annotation(L"TMF:", L"a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90 WppAtlasDriver // SRC=wpp_driver.c MJ= MN=",
                 L"#typev wpp_driver_c124 15 \"%0 QueueRequest(code, driver, 0) failed: %10!s!\" //   LEVEL=TRACE_LEVEL_ERROR FLAGS=TRACE_DRIVER FUNC=DriverEntry",
                 L"{", L"QueueRequest(0x22e004, driver, 0), ItemNTSTATUS -- 10", L"}");
    if (WPP_ENABLED(0)) WPP_SF_s(WPP_LOGGER, 15, WPP_GUID, status);
  }
  PowerTransition(0, 'W', -1, 0x1234);
  return status;
}
