/* User-mode DLL with a manifest-style ETW provider (EventRegister / EventWrite from advapi32).
   Globals mirror what mc.exe generates: a provider GUID, const EVENT_DESCRIPTORs, a REGHANDLE. */
#include <windows.h>
#include <evntprov.h>

/* {3f1a2b4c-1d2e-4f50-9182-736455463728} */
const GUID FixtureProviderGuid = {0x3f1a2b4c, 0x1d2e, 0x4f50, {0x91, 0x82, 0x73, 0x64, 0x55, 0x46, 0x37, 0x28}};

/* Id, Version, Channel, Level, Opcode, Task, Keyword */
const EVENT_DESCRIPTOR FixtureStartEvent = {1, 0, 0x10, 4, 1, 1, 0x8000000000000001ULL};
const EVENT_DESCRIPTOR FixtureStopEvent = {2, 0, 0x10, 4, 2, 1, 0x8000000000000001ULL};
const EVENT_DESCRIPTOR FixtureErrorEvent = {3, 1, 0x10, 2, 0, 2, 0x8000000000000002ULL};

REGHANDLE FixtureRegHandle;
static ULONG FixtureCounter;

__declspec(dllexport) ULONG FixtureRegister(void) {
  return EventRegister(&FixtureProviderGuid, NULL, NULL, &FixtureRegHandle);
}

__declspec(dllexport) ULONG FixtureUnregister(void) {
  return EventUnregister(FixtureRegHandle);
}

static __declspec(noinline) ULONG WriteValue(PCEVENT_DESCRIPTOR descriptor, ULONG value) {
  EVENT_DATA_DESCRIPTOR data;
  EventDataDescCreate(&data, &value, sizeof value);
  return EventWrite(FixtureRegHandle, descriptor, 1, &data);
}

__declspec(dllexport) ULONG FixtureStart(ULONG value) {
  FixtureCounter++;
  return WriteValue(&FixtureStartEvent, value);
}

__declspec(dllexport) ULONG FixtureStop(ULONG value) {
  return WriteValue(&FixtureStopEvent, value + FixtureCounter);
}

__declspec(dllexport) ULONG FixtureFail(const WCHAR *message, ULONG length) {
  EVENT_DATA_DESCRIPTOR data[2];
  EventDataDescCreate(&data[0], &length, sizeof length);
  EventDataDescCreate(&data[1], message, length * sizeof(WCHAR));
  return EventWrite(FixtureRegHandle, &FixtureErrorEvent, 2, data);
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved) {
  (void)instance;
  (void)reserved;
  if (reason == DLL_PROCESS_ATTACH) FixtureRegister();
  if (reason == DLL_PROCESS_DETACH) FixtureUnregister();
  return TRUE;
}
