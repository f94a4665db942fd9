/* TraceLogging write sites for the analysis recognizer, laid out the way TraceLoggingProvider.h
   expands them (the SDK header is not available here): an ETW0 metadata region with two providers
   and eight events, two _TlgProvider_t structs in writable data, and the write shapes seen in real
   binaries:
     - the _tlgWriteTransfer_EventWriteTransfer body inlined (RegHandle = a load of struct+0x20,
       the event blob referenced in the same function),
     - the same body as a shared helper taking (provider, metadata) — called for both providers,
     - a call whose metadata argument merges two events (conditional),
     - the provider reached through a TraceLoggingHProvider pointer variable,
     - a second wrapper level (BetaLog → helper),
     - a manifest-style EventWriteTransfer (EventRegister'd REGHANDLE + EVENT_DESCRIPTOR global) that
       must stay a manifest write, and one event blob no code writes.
   tracelogging_sites.expected.json lists, by hand, which provider each event is written with. */
#include <windows.h>
#include <evntprov.h>

typedef unsigned char u8;
typedef unsigned long long u64;

#define TLG_SECTION(n) __attribute__((section(".rdata$zETW" #n), used))

/* ETW0 header: magic, size 16, flags (bit 0: 64-bit pointers), version 1, trailing magic bytes. */
TLG_SECTION(0) __attribute__((aligned(8))) const u8 tlgHeader[16] = {'E', 'T', 'W', '0', 16, 0, 1, 1, 0x86, 0x0e, 0x04, 0x88, 0x2b, 0x05, 0x8a, 0xbb};

/* Event4 blobs (type 6): channel 11, level, opcode, keyword, RemainingSize, tag byte, name. */
TLG_SECTION(1) const u8 evAlphaInline[] = {6, 11, 4, 1, 16, 0, 0, 0, 0, 0, 0, 0, 15, 0, 0, 'A', 'l', 'p', 'h', 'a', 'I', 'n', 'l', 'i', 'n', 'e', 0};
TLG_SECTION(1) const u8 evAlphaViaHelper[] = {6, 11, 4, 0, 16, 0, 0, 0, 0, 0, 0, 0, 18, 0, 0, 'A', 'l', 'p', 'h', 'a', 'V', 'i', 'a', 'H', 'e', 'l', 'p', 'e', 'r', 0};
TLG_SECTION(1) const u8 evAlphaEitherOne[] = {6, 11, 3, 0, 32, 0, 0, 0, 0, 0, 0, 0, 18, 0, 0, 'A', 'l', 'p', 'h', 'a', 'E', 'i', 't', 'h', 'e', 'r', 'O', 'n', 'e', 0};
TLG_SECTION(1) const u8 evAlphaEitherTwo[] = {6, 11, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 18, 0, 0, 'A', 'l', 'p', 'h', 'a', 'E', 'i', 't', 'h', 'e', 'r', 'T', 'w', 'o', 0};
TLG_SECTION(1) const u8 evBetaInline[] = {6, 11, 4, 2, 1, 0, 0, 0, 0, 0, 0, 0, 14, 0, 0, 'B', 'e', 't', 'a', 'I', 'n', 'l', 'i', 'n', 'e', 0};
TLG_SECTION(1) const u8 evBetaViaHelper[] = {6, 11, 5, 0, 1, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 'B', 'e', 't', 'a', 'V', 'i', 'a', 'H', 'e', 'l', 'p', 'e', 'r', 0};
TLG_SECTION(1) const u8 evBetaNested[] = {6, 11, 4, 0, 2, 0, 0, 0, 0, 0, 0, 0, 14, 0, 0, 'B', 'e', 't', 'a', 'N', 'e', 's', 't', 'e', 'd', 0};
TLG_SECTION(1) const u8 evNeverWritten[] = {6, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 'N', 'e', 'v', 'e', 'r', 'W', 'r', 'i', 't', 't', 'e', 'n', 0};

/* Provider blobs (type 4): GUID, RemainingSize, name.
   Atlas.Sites.Alpha {6a1d3f5e-2b4c-4d8e-9f70-a1b2c3d4e5f6}, Atlas.Sites.Beta {7b2e4a6f-3c5d-4e9f-8a81-b2c3d4e5f607}. */
TLG_SECTION(2) const u8 provAlphaBlob[] = {4, 94, 63, 29, 106, 76, 43, 142, 77, 159, 112, 161, 178, 195, 212, 229, 246, 20, 0, 'A', 't', 'l', 'a', 's', '.', 'S', 'i', 't', 'e', 's', '.', 'A', 'l', 'p', 'h', 'a', 0};
TLG_SECTION(2) const u8 provBetaBlob[] = {4, 111, 74, 46, 123, 93, 60, 159, 78, 138, 129, 178, 195, 212, 229, 246, 7, 19, 0, 'A', 't', 'l', 'a', 's', '.', 'S', 'i', 't', 'e', 's', '.', 'B', 'e', 't', 'a', 0};
TLG_SECTION(9) const u8 tlgEnd = 1;

/* _TlgProvider_t (x64): the metadata pointer (+8) points at the provider blob's RemainingSize;
   the REGHANDLE sits at +0x20. */
typedef struct {
  ULONG LevelPlus1;
  const u8 *ProviderMetadataPtr;
  u64 KeywordAny, KeywordAll;
  REGHANDLE RegHandle;
  void *EnableCallback;
  void *CallbackContext;
} TlgProvider;

TlgProvider provAlpha = {0, provAlphaBlob + 17, 0, 0, 0, 0, 0};
TlgProvider provBeta = {0, provBetaBlob + 17, 0, 0, 0, 0, 0};
/* A TraceLoggingHProvider variable (not const, so the compiler keeps the load). */
TlgProvider *hBeta = &provBeta;

/* The body of _tlgWriteTransfer_EventWriteTransfer: `meta` points at the event blob's channel byte
   (blob+1), as the SDK passes it. */
#define TLG_WRITE_BODY(p, meta, data)                                                                 \
  EVENT_DESCRIPTOR desc;                                                                              \
  u64 keyword = 0;                                                                                    \
  for (int i = 7; i >= 0; i--) keyword = (keyword << 8) | (meta)[3 + i];                              \
  desc.Id = 0;                                                                                        \
  desc.Version = 0;                                                                                   \
  desc.Channel = (meta)[0];                                                                           \
  desc.Level = (meta)[1];                                                                             \
  desc.Opcode = (meta)[2];                                                                            \
  desc.Task = 0;                                                                                      \
  desc.Keyword = keyword;                                                                             \
  (data)[0].Ptr = (ULONG_PTR)(p)->ProviderMetadataPtr;                                                \
  (data)[0].Size = *(const USHORT *)(p)->ProviderMetadataPtr;                                         \
  (data)[0].Reserved = 2;                                                                             \
  (data)[1].Ptr = (ULONG_PTR)((meta) + 11);                                                           \
  (data)[1].Size = *(const USHORT *)((meta) + 11);                                                    \
  (data)[1].Reserved = 1;                                                                             \
  return EventWriteTransfer((p)->RegHandle, &desc, NULL, NULL, 2, (data));

static inline __attribute__((always_inline)) ULONG TlgWriteInline(const TlgProvider *p, const u8 *meta) {
  EVENT_DATA_DESCRIPTOR data[2];
  TLG_WRITE_BODY(p, meta, data)
}

__attribute__((noinline)) ULONG TlgWriteHelper(const TlgProvider *p, const u8 *meta, EVENT_DATA_DESCRIPTOR *data) {
  TLG_WRITE_BODY(p, meta, data)
}

__declspec(dllexport) ULONG AlphaInlineWrite(void) { return TlgWriteInline(&provAlpha, evAlphaInline + 1); }

__declspec(dllexport) ULONG AlphaHelperWrite(void) {
  EVENT_DATA_DESCRIPTOR data[2];
  return TlgWriteHelper(&provAlpha, evAlphaViaHelper + 1, data);
}

__declspec(dllexport) ULONG AlphaEitherWrite(int which) {
  EVENT_DATA_DESCRIPTOR data[2];
  return TlgWriteHelper(&provAlpha, which ? evAlphaEitherOne + 1 : evAlphaEitherTwo + 1, data);
}

__declspec(dllexport) ULONG BetaInlineWrite(void) { return TlgWriteInline(hBeta, evBetaInline + 1); }

__declspec(dllexport) ULONG BetaHelperWrite(void) {
  EVENT_DATA_DESCRIPTOR data[2];
  return TlgWriteHelper(&provBeta, evBetaViaHelper + 1, data);
}

__attribute__((noinline)) ULONG BetaLog(const u8 *meta) {
  EVENT_DATA_DESCRIPTOR data[2];
  return TlgWriteHelper(&provBeta, meta, data);
}

__declspec(dllexport) ULONG BetaNestedWrite(void) { return BetaLog(evBetaNested + 1); }

/* Manifest-style provider: must not be taken for TraceLogging. */
const GUID ManifestProviderGuid = {0x1c3e5a7b, 0x9d2f, 0x4b6a, {0x8c, 0x0e, 0x2f, 0x4a, 0x6b, 0x8c, 0x0d, 0x1e}};
const EVENT_DESCRIPTOR ManifestEvent = {7, 1, 0x10, 4, 0, 3, 0x8000000000000001ULL};
REGHANDLE ManifestHandle;

__declspec(dllexport) ULONG ManifestWrite(void) {
  return EventWriteTransfer(ManifestHandle, &ManifestEvent, NULL, NULL, 0, NULL);
}

/* Keeps the metadata region (and the unwritten blob) in the image. */
__declspec(dllexport) const void *const tlgAll[] = {tlgHeader, evNeverWritten, &tlgEnd};

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved) {
  (void)instance;
  (void)reserved;
  if (reason == DLL_PROCESS_ATTACH) EventRegister(&ManifestProviderGuid, NULL, NULL, &ManifestHandle);
  return TRUE;
}
