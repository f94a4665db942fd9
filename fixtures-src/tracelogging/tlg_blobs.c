/*
 * Hand-laid TraceLogging metadata in the layout TraceLoggingProvider.h produces (the SDK header is
 * not available here), covering what the corpus binaries lack: blob types 2, 3 and 5, custom-schema
 * fields, nested structs, fixed/variable arrays, field and event tags, a second ETW0 header in
 * another section, and _TlgProvider_t structs in .data. test/tracelogging.test.ts checks every value
 * written below.
 */
typedef unsigned char u8;
typedef unsigned long long u64;

#define HEADER {'E','T','W','0', 16,0, 0, 1, 0x86,0x0e,0x04,0x88,0x2b,0x05,0x8a,0xbb}

#pragma section(".rdata$zETW0", read)
#pragma section(".rdata$zETW1", read)
#pragma section(".rdata$zETW2", read)
#pragma section(".rdata$zETW9", read)
#pragma section(".tlg2$zETW0", read)
#pragma section(".tlg2$zETW1", read)
#pragma section(".tlg2$zETW2", read)
#pragma section(".tlg2$zETW9", read)

__declspec(allocate(".rdata$zETW0")) __declspec(align(8)) const u8 tlgHeader[16] = HEADER;

/* All event blobs in one array so the compiler cannot pad between them. */
__declspec(allocate(".rdata$zETW1")) const u8 tlgEvents[] = {
  /* Event3: channel 11, level 4, opcode 1, keyword 0x20, tags one byte 0x12 -> 0x02400000 */
  3, 11, 4, 1, 0x20,0,0,0,0,0,0,0, 68,0, 0x12, 'E','v','e','n','t','T','h','r','e','e',0,
    'u','3','2',0, 8,                                   /* UINT32 */
    's','t','r',0, 0x81, 0x82, 0x80,0x80,0x80,0x05,     /* UNICODESTRING, out STRING + field tag 5 */
    'f','i','x',0, 0x26, 4,0,                           /* UINT16 fixed array, 4 elements */
    'v','a','r',0, 0x47,                                /* INT32 variable array */
    'S',0, 0x98, 2,                                     /* struct with 2 members */
      'i','n',0, 0x98, 1,                               /*   nested struct with 1 member */
        'g',0, 15,                                      /*     GUID */
      'h','r',0, 0x87, 15,                              /*   INT32 out HRESULT */
    'c','u','s',0, 0x61, 3,0, 0xaa,0xbb,0xcc,           /* custom protocol 1, 3 schema bytes */
  0, 0,                                                 /* padding between blobs is legal */
  /* Event2 (type 5): level 2, opcode 0, task 7, keyword 1 */
  5, 2, 0, 7,0, 1,0,0,0,0,0,0,0, 16,0, 0, 'E','v','e','n','t','T','w','o',0, 'b',0, 0x8d, 0x03,
  /* Event4 (type 6): channel 11, level 5, opcode 0, keyword 0x0000400000000000, 2-byte tag */
  6, 11, 5, 0, 0,0,0,0,0,0x40,0,0, 22,0, 0x81,0x02, 'E','v','e','n','t','F','o','u','r',0,
    'x',0, 0x84, 0x12,                                  /* UINT8 out UNSIGNED */
    's','v',0, 0x42,                                    /* ANSISTRING variable array */
};

/* Provider3 "Fixture.Provider", GUID = the ETW hash of its name {a6dabd09-831e-5336-c293-4d1280892f00},
   with a provider-group trait {4f50731a-89cf-4782-b3e0-dce8c90476ba}. */
__declspec(allocate(".rdata$zETW2")) const u8 tlgProviders[] = {
  4, 0x09,0xbd,0xda,0xa6, 0x1e,0x83, 0x36,0x53, 0xc2,0x93,0x4d,0x12,0x80,0x89,0x2f,0x00,
    2+17+19,0, 'F','i','x','t','u','r','e','.','P','r','o','v','i','d','e','r',0,
    19,0, 1, 0x1a,0x73,0x50,0x4f, 0xcf,0x89, 0x82,0x47, 0xb3,0xe0,0xdc,0xe8,0xc9,0x04,0x76,0xba,
  /* legacy Provider (type 2): no GUID */
  2, 2+15,0, 'F','i','x','t','u','r','e','.','L','e','g','a','c','y',0,
};

__declspec(allocate(".rdata$zETW9")) const u8 tlgEnd = 1;

/* Second metadata region in its own section. */
__declspec(allocate(".tlg2$zETW0")) __declspec(align(8)) const u8 tlgHeader2[16] = HEADER;
__declspec(allocate(".tlg2$zETW1")) const u8 tlgEvents2[] = {
  6, 11, 3, 2, 0,0,0,0,0,0,0,0, 13,0, 0, 'S','e','c','o','n','d',0, 'n',0, 4,
};
__declspec(allocate(".tlg2$zETW2")) const u8 tlgProviders2[] = {
  4, 0x01,0x02,0x03,0x04, 0x05,0x06, 0x07,0x08, 0x09,0x0a,0x0b,0x0c,0x0d,0x0e,0x0f,0x10,
    2+15,0, 'F','i','x','t','u','r','e','.','S','e','c','o','n','d',0,
};
__declspec(allocate(".tlg2$zETW9")) const u8 tlgEnd2 = 1;

/* _TlgProvider_t (x64): LevelPlus1, ProviderMetadataPtr -> RemainingSize, KeywordAny, KeywordAll,
   RegHandle, EnableCallback, CallbackContext. */
typedef struct {
  unsigned LevelPlus1;
  const void* ProviderMetadataPtr;
  u64 KeywordAny, KeywordAll, RegHandle;
  void* EnableCallback;
  void* CallbackContext;
} TlgProvider;

__declspec(dllexport) TlgProvider g_fixtureProvider = {0, tlgProviders + 17, 0, 0, 0, 0, 0};
__declspec(dllexport) TlgProvider g_legacyProvider = {0, tlgProviders + 56, 0, 0, 0, 0, 0};
__declspec(dllexport) TlgProvider g_secondProvider = {0, tlgProviders2 + 17, 0, 0, 0, 0, 0};

/* Keep every metadata array referenced. */
__declspec(dllexport) const void* const tlgAll[] = {tlgHeader, tlgEvents, &tlgEnd, tlgHeader2, tlgEvents2, &tlgEnd2};

int __stdcall DllMain(void* h, unsigned reason, void* reserved) {
  (void)h; (void)reason; (void)reserved;
  return 1;
}
