/* User-mode DLL with WPP software tracing as tracewpp's um templates expand it: two control GUIDs
   (two TMC: annotations, registered with RegisterTraceGuidsW), TMF: annotations at the trace calls,
   and WPP_SF_<sig> functions calling TraceMessage (advapi32) directly.
   The annotation strings below are what tests compare against: keep them literal. */
#include <windows.h>
#include <evntrace.h>

#define WPP_TRACE_OPTIONS 0x2B

/* WPP_TRACE_CONTROL_BLOCK (um). */
typedef struct _WPP_TRACE_CONTROL_BLOCK {
  struct _WPP_TRACE_CONTROL_BLOCK *Next;
  TRACEHANDLE UmRegistrationHandle;
  TRACEHANDLE Logger;
  UCHAR FlagsLen;
  UCHAR Level;
  USHORT Options;
  ULONG Flags[1];
  LPCGUID ControlGuid;
} WPP_TRACE_CONTROL_BLOCK;

const GUID WPP_ThisDir_CTLGUID_WppAtlasUser = {0x3d2c1b0a, 0x9f8e, 0x4d7c, {0xb6, 0xa5, 0x94, 0x83, 0x72, 0x61, 0x50, 0x4f}};
const GUID WPP_ThisDir_CTLGUID_WppAtlasUserNet = {0x7e6d5c4b, 0x3a29, 0x4817, {0x86, 0x95, 0xa4, 0xb3, 0xc2, 0xd1, 0xe0, 0xf2}};
const GUID WPP_0f1e2d3c4b5a69788796a5b4c3d2e1f0_Traceguids[] = {
    {0x0f1e2d3c, 0x4b5a, 0x6978, {0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0}}};

WPP_TRACE_CONTROL_BLOCK WPP_MAIN_CB[2];
WPP_TRACE_CONTROL_BLOCK *WPP_GLOBAL_Control = (WPP_TRACE_CONTROL_BLOCK *)&WPP_GLOBAL_Control;

#define WPP_ENABLED(ctl, bit) \
  (WPP_GLOBAL_Control != (WPP_TRACE_CONTROL_BLOCK *)&WPP_GLOBAL_Control && (WPP_MAIN_CB[ctl].Flags[0] & (1u << (bit))))
#define WPP_LOGGER(ctl) (WPP_MAIN_CB[ctl].Logger)
#define WPP_GUID (&WPP_0f1e2d3c4b5a69788796a5b4c3d2e1f0_Traceguids[0])

__declspec(noinline) void WPP_SF_S(TRACEHANDLE logger, USHORT id, LPCGUID guid, const WCHAR *a1) {
  TraceMessage(logger, WPP_TRACE_OPTIONS, (LPGUID)guid, id, a1, (lstrlenW(a1) + 1) * sizeof(WCHAR), NULL);
}
__declspec(noinline) void WPP_SF_dD(TRACEHANDLE logger, USHORT id, LPCGUID guid, int a1, unsigned a2) {
  TraceMessage(logger, WPP_TRACE_OPTIONS, (LPGUID)guid, id, &a1, sizeof a1, &a2, sizeof a2, NULL);
}
__declspec(noinline) void WPP_SF_ld(TRACEHANDLE logger, USHORT id, LPCGUID guid, HRESULT a1, int a2) {
  TraceMessage(logger, WPP_TRACE_OPTIONS, (LPGUID)guid, id, &a1, sizeof a1, &a2, sizeof a2, NULL);
}

__declspec(dllexport) __declspec(noinline) int SendPacket(const void *data, int length, unsigned short port) {
  __annotation(L"TMF:", L"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 WppAtlasUser // SRC=wpp_user.c MJ= MN=",
               L"#typev wpp_user_c46 10 \"%0 send %10!d! bytes to port %11!u!\" //   LEVEL=TRACE_LEVEL_VERBOSE FLAGS=NET_SEND FUNC=SendPacket",
               L"{", L"length, ItemLong -- 10", L"port, ItemPort -- 11", L"}");
  if (WPP_ENABLED(1, 0)) WPP_SF_dD(WPP_LOGGER(1), 10, WPP_GUID, length, port);
  return data != NULL ? length : -1;
}

__declspec(dllexport) __declspec(noinline) HRESULT ReceivePacket(void *buffer, int length) {
  HRESULT hr = buffer != NULL ? S_OK : E_POINTER;
  __annotation(L"TMF:", L"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 WppAtlasUser // SRC=wpp_user.c MJ= MN=",
               L"#typev wpp_user_c55 11 \"%0 receive failed hr=%10!s! length=%11!d!\" //   LEVEL=TRACE_LEVEL_WARNING FLAGS=NET_RECV FUNC=ReceivePacket",
               L"{", L"hr, ItemHRESULT -- 10", L"length, ItemLong -- 11", L"}");
  if (FAILED(hr) && WPP_ENABLED(1, 1)) WPP_SF_ld(WPP_LOGGER(1), 11, WPP_GUID, hr, length);
  return hr;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved) {
  (void)instance;
  (void)reserved;
  if (reason == DLL_PROCESS_ATTACH) {
    /* WPP_INIT_TRACING: one control annotation per control GUID. */
    __annotation(L"TMC:", L"3d2c1b0a-9f8e-4d7c-b6a5-94837261504f", L"WppAtlasUser", L"TRACE_INIT", L"TRACE_CALLS");
    __annotation(L"TMC:", L"7e6d5c4b-3a29-4817-8695-a4b3c2d1e0f2", L"WppAtlasUserNet", L"NET_SEND", L"NET_RECV");
    WPP_MAIN_CB[0].ControlGuid = &WPP_ThisDir_CTLGUID_WppAtlasUser;
    WPP_MAIN_CB[1].ControlGuid = &WPP_ThisDir_CTLGUID_WppAtlasUserNet;
    WPP_GLOBAL_Control = WPP_MAIN_CB;
    __annotation(L"TMF:", L"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 WppAtlasUser // SRC=wpp_user.c MJ= MN=",
                 L"#typev wpp_user_c72 12 \"%0 attached to %10!ws!\" //   LEVEL=TRACE_LEVEL_INFORMATION FLAGS=TRACE_INIT FUNC=DllMain",
                 L"{", L"L\"wpp_user.dll\", ItemWString -- 10", L"}");
    if (WPP_ENABLED(0, 0)) WPP_SF_S(WPP_LOGGER(0), 12, WPP_GUID, L"wpp_user.dll");
  }
  return TRUE;
}
