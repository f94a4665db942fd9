/* TraceLogging provider association the simple forms miss: five providers in one image, so only the
   code says which provider writes which event (tracelogging_providers.expected.json, by hand).

   Register forms (written in assembly: they are what MSVC's LTCG emits, which clang does not):
     - the provider's address in r11 / r10 (`lea r11,[provider]`), kept across a call, then
       `mov rcx, r11` into the write helper. LTCG does this when it knows the callee leaves the
       register alone — a leaf, or a callee whose own callees leave it alone too;
     - negative cases: a callee that does write r11, and an imported callee (unknown code).
   Getter forms (plain C, noinline):
     - a getter returning the provider's address (RAX), passed to the helper or dereferenced for the
       RegHandle inline;
     - a lazily initialised singleton getter (`if (!g) g = &provider; return g;`);
     - a singleton object whose field holds the provider pointer (WIL-style: `GetObject()->provider`);
     - a global assigned a getter's result once (`gCached = GetProvider()`), used by later writes. */
#include <windows.h>
#include <evntprov.h>

typedef unsigned char u8;
typedef unsigned long long u64;

#define TLG_SECTION(n) __attribute__((section(".rdata$zETW" #n), used))

TLG_SECTION(0) __attribute__((aligned(8))) const u8 tlgHeader[16] = {'E', 'T', 'W', '0', 16, 0, 1, 1, 0x86, 0x0e, 0x04, 0x88, 0x2b, 0x05, 0x8a, 0xbb};

/* Event blob (type 6): channel 11, level, opcode 0, keyword 0, RemainingSize, tag 0, name. */
#define TLG_EVENT(var, level)                                                                              \
  TLG_SECTION(1) const struct __attribute__((packed)) {                                                    \
    u8 head[12];                                                                                           \
    unsigned short size;                                                                                   \
    u8 tag;                                                                                                \
    char name[sizeof(#var)];                                                                               \
  } var = {{6, 11, level, 0, 0, 0, 0, 0, 0, 0, 0, 0}, sizeof(#var) + 3, 0, #var}

TLG_EVENT(RegLeaf, 4);
TLG_EVENT(RegNested, 4);
TLG_EVENT(RegTwoLevels, 4);
TLG_EVENT(RegR10Nested, 3);
TLG_EVENT(RegClobbered, 4);
TLG_EVENT(RegAcrossImport, 4);
TLG_EVENT(GetterArg, 4);
TLG_EVENT(GetterHandle, 4);
TLG_EVENT(LazyGetter, 4);
TLG_EVENT(ObjectField, 4);
TLG_EVENT(CachedGlobal, 4);
TLG_EVENT(Unwritten, 5);

/* Provider blob (type 4): GUID, RemainingSize, name. */
#define TLG_PROVIDER(var, str, ...)                                                                        \
  TLG_SECTION(2) const struct __attribute__((packed)) {                                                    \
    u8 head[17];                                                                                           \
    unsigned short size;                                                                                   \
    char name[sizeof(str)];                                                                                \
  } var = {{4, __VA_ARGS__}, sizeof(str) + 2, str}

/* Atlas.Providers.Reg    {1a2b3c4d-0001-4a00-8b00-00000000a001}, .Getter ...a002, .Lazy ...a003,
   .Object ...a004, .Cached ...a005 (GUID bytes little-endian as in the blob). */
TLG_PROVIDER(blobReg, "Atlas.Providers.Reg", 0x4d, 0x3c, 0x2b, 0x1a, 0x01, 0, 0x00, 0x4a, 0x8b, 0, 0, 0, 0, 0, 0xa0, 0x01);
TLG_PROVIDER(blobGetter, "Atlas.Providers.Getter", 0x4d, 0x3c, 0x2b, 0x1a, 0x01, 0, 0x00, 0x4a, 0x8b, 0, 0, 0, 0, 0, 0xa0, 0x02);
TLG_PROVIDER(blobLazy, "Atlas.Providers.Lazy", 0x4d, 0x3c, 0x2b, 0x1a, 0x01, 0, 0x00, 0x4a, 0x8b, 0, 0, 0, 0, 0, 0xa0, 0x03);
TLG_PROVIDER(blobObject, "Atlas.Providers.Object", 0x4d, 0x3c, 0x2b, 0x1a, 0x01, 0, 0x00, 0x4a, 0x8b, 0, 0, 0, 0, 0, 0xa0, 0x04);
TLG_PROVIDER(blobCached, "Atlas.Providers.Cached", 0x4d, 0x3c, 0x2b, 0x1a, 0x01, 0, 0x00, 0x4a, 0x8b, 0, 0, 0, 0, 0, 0xa0, 0x05);
TLG_SECTION(9) const u8 tlgEnd = 1;

/* _TlgProvider_t (x64): metadata pointer (+8) at the provider blob's RemainingSize; REGHANDLE at +0x20. */
typedef struct {
  ULONG LevelPlus1;
  const void *ProviderMetadataPtr;
  u64 KeywordAny, KeywordAll;
  REGHANDLE RegHandle;
  void *EnableCallback;
  void *CallbackContext;
} TlgProvider;

TlgProvider provReg = {0, &blobReg.size, 0, 0, 0, 0, 0};
TlgProvider provGetter = {0, &blobGetter.size, 0, 0, 0, 0, 0};
TlgProvider provLazy = {0, &blobLazy.size, 0, 0, 0, 0, 0};
TlgProvider provObject = {0, &blobObject.size, 0, 0, 0, 0, 0};
TlgProvider provCached = {0, &blobCached.size, 0, 0, 0, 0, 0};

/* The write helper (_tlgWriteTransfer_EventWriteTransfer's shape): provider, metadata = blob + 1. */
__attribute__((noinline)) ULONG TlgWrite(const TlgProvider *p, const u8 *meta) {
  EVENT_DESCRIPTOR desc = {0, 0, meta[0], meta[1], meta[2], 0, 0};
  EVENT_DATA_DESCRIPTOR data[2];
  data[0].Ptr = (ULONG_PTR)p->ProviderMetadataPtr;
  data[0].Size = *(const USHORT *)p->ProviderMetadataPtr;
  data[0].Reserved = 2;
  data[1].Ptr = (ULONG_PTR)(meta + 11);
  data[1].Size = *(const USHORT *)(meta + 11);
  data[1].Reserved = 1;
  return EventWriteTransfer(p->RegHandle, &desc, NULL, NULL, 2, data);
}

/* ---- register forms ---- */
volatile ULONG gEnabled = 1;

/* Callees for the register forms, in assembly so their register use is exact. */
__asm__(".section .text$zasm,\"xr\"\n"
        /* LeafCheck: reads a flag into eax; writes only rax. */
        ".globl LeafCheck\n"
        "LeafCheck:\n"
        "  movl gEnabled(%rip), %eax\n"
        "  ret\n"
        /* NestedCheck: calls LeafCheck, then tests; writes rax, rcx, rdx only. */
        ".globl NestedCheck\n"
        "NestedCheck:\n"
        "  subq $40, %rsp\n"
        "  call LeafCheck\n"
        "  movl %eax, %ecx\n"
        "  xorl %edx, %edx\n"
        "  testl %ecx, %ecx\n"
        "  setne %dl\n"
        "  movl %edx, %eax\n"
        "  addq $40, %rsp\n"
        "  ret\n"
        /* OuterCheck: two levels of callees (OuterCheck -> NestedCheck -> LeafCheck). */
        ".globl OuterCheck\n"
        "OuterCheck:\n"
        "  subq $40, %rsp\n"
        "  call NestedCheck\n"
        "  addq $40, %rsp\n"
        "  ret\n"
        /* ClobberCheck: uses r11 as a scratch register. */
        ".globl ClobberCheck\n"
        "ClobberCheck:\n"
        "  movl gEnabled(%rip), %r11d\n"
        "  movl %r11d, %eax\n"
        "  ret\n");

/* Exported writers. Each: provider into r11/r10, a call, then `mov rcx, r11` to the helper. */
#define REG_WRITER(name, reg, callee, event)                                                               \
  __attribute__((naked)) __declspec(dllexport) ULONG name(void) {                                          \
    __asm__("subq $40, %rsp\n"                                                                             \
            "leaq provReg(%rip), %" reg "\n"                                                               \
            "call " callee "\n"                                                                            \
            "movq %" reg ", %rcx\n"                                                                        \
            "leaq " event "+1(%rip), %rdx\n"                                                               \
            "call TlgWrite\n"                                                                              \
            "addq $40, %rsp\n"                                                                             \
            "ret\n");                                                                                      \
  }

REG_WRITER(RegLeafWrite, "r11", "LeafCheck", "RegLeaf")
REG_WRITER(RegNestedWrite, "r11", "NestedCheck", "RegNested")
REG_WRITER(RegTwoLevelsWrite, "r11", "OuterCheck", "RegTwoLevels")
REG_WRITER(RegR10NestedWrite, "r10", "NestedCheck", "RegR10Nested")
/* Negative: the callee writes r11, so RCX is not the provider. */
REG_WRITER(RegClobberedWrite, "r11", "ClobberCheck", "RegClobbered")
/* Negative: an import may write any volatile register. */
REG_WRITER(RegAcrossImportWrite, "r11", "*__imp_GetTickCount(%rip)", "RegAcrossImport")

/* ---- getter forms ----
   The getters are in assembly so that clang cannot see their bodies: it would otherwise fold their
   constant results into the callers (MSVC's getters hide theirs behind init-once logic). The
   callers below are plain compiled C. */
/* Written only by GetLazyProvider (assembly). */
TlgProvider *gLazy;
typedef struct {
  u64 refs;
  TlgProvider *provider;
} Singleton;
/* A singleton object holding the provider pointer in a field (initialised in the image). */
Singleton gSingleton = {1, &provObject};

TlgProvider *GetGetterProvider(void);
TlgProvider *GetLazyProvider(void);
Singleton *GetSingleton(void);
TlgProvider *GetCachedProvider(void);
__asm__(".section .text$zasm,\"xr\"\n"
        /* return &provGetter */
        ".globl GetGetterProvider\n"
        "GetGetterProvider:\n"
        "  leaq provGetter(%rip), %rax\n"
        "  ret\n"
        /* if (!gLazy) gLazy = &provLazy; return gLazy; */
        ".globl GetLazyProvider\n"
        "GetLazyProvider:\n"
        "  movq gLazy(%rip), %rax\n"
        "  testq %rax, %rax\n"
        "  jne 1f\n"
        "  leaq provLazy(%rip), %rax\n"
        "  movq %rax, gLazy(%rip)\n"
        "1:\n"
        "  ret\n"
        /* return &gSingleton */
        ".globl GetSingleton\n"
        "GetSingleton:\n"
        "  leaq gSingleton(%rip), %rax\n"
        "  ret\n"
        /* return &provCached */
        ".globl GetCachedProvider\n"
        "GetCachedProvider:\n"
        "  leaq provCached(%rip), %rax\n"
        "  ret\n");

__declspec(dllexport) ULONG GetterArgWrite(void) { return TlgWrite(GetGetterProvider(), (const u8 *)&GetterArg + 1); }

__declspec(dllexport) ULONG GetterHandleWrite(void) {
  EVENT_DESCRIPTOR desc = {0, 0, 11, 4, 0, 0, 0};
  EVENT_DATA_DESCRIPTOR data[1];
  data[0].Ptr = (ULONG_PTR)((const u8 *)&GetterHandle + 12);
  data[0].Size = GetterHandle.size;
  data[0].Reserved = 1;
  return EventWriteTransfer(GetGetterProvider()->RegHandle, &desc, NULL, NULL, 1, data);
}

__declspec(dllexport) ULONG LazyGetterWrite(void) { return TlgWrite(GetLazyProvider(), (const u8 *)&LazyGetter + 1); }

__declspec(dllexport) ULONG ObjectFieldWrite(void) {
  return TlgWrite(GetSingleton()->provider, (const u8 *)&ObjectField + 1);
}

/* A global given a getter's result once; later writes load it. */
TlgProvider *volatile gCached;

__declspec(dllexport) void CacheProvider(void) { gCached = GetCachedProvider(); }

__declspec(dllexport) ULONG CachedGlobalWrite(void) { return TlgWrite(gCached, (const u8 *)&CachedGlobal + 1); }

/* Keeps the metadata region (and the unwritten blob) in the image. */
__declspec(dllexport) const void *const tlgAll[] = {tlgHeader, &Unwritten, &tlgEnd};

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved) {
  (void)instance;
  (void)reason;
  (void)reserved;
  return TRUE;
}
