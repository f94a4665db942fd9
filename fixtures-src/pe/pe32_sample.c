/*
 * PE reader fixture (x86, PE32): imports by name and by ordinal, a delay-loaded DLL, named and
 * ordinal-only exports plus a forwarder (see pe32_sample.def), and a resource tree with string
 * and integer types (pe32_sample.rc). Built by build.sh; the binary is committed. lld-link-14
 * writes the x86 forwarder string as "_KERNEL32.GetTickCount" (it decorates the .def target).
 */
typedef unsigned long DWORD;
typedef void *HANDLE;

__declspec(dllimport) DWORD __stdcall GetTickCount(void);
__declspec(dllimport) HANDLE __stdcall GetProcessHeap(void);
/* Imported by ordinal only (NONAME in peer.def). */
__declspec(dllimport) int __cdecl PeerOrdinalOnly(int);
/* Delay-loaded (lld-link /delayload:delayed.dll). */
__declspec(dllimport) int __cdecl DelayedFunction(int);

/* lld-link needs the delay-load helper; a real one lives in the CRT (delayimp.lib). */
void *__stdcall __delayLoadHelper2(const void *descriptor, void **iatSlot) {
  (void)descriptor;
  return *iatSlot;
}

int SampleAdd(int a, int b) { return a + b + (int)GetTickCount(); }
int SampleHeap(void) { return GetProcessHeap() != 0; }
int SampleHidden(int x) { return PeerOrdinalOnly(x) + DelayedFunction(x); }

int __stdcall DllMain(void *module, DWORD reason, void *reserved) {
  (void)module;
  (void)reserved;
  return reason != 0;
}
