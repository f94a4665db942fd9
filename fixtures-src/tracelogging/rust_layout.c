/*
 * The metadata layout of microsoft/rust_win_etw (feature "metadata_headers"): .rdata$etw0 = ETW0
 * header, .rdata$etw1 = raw ETW EventMetadata records (u16 size, tags, name, fields), .rdata$etw2 =
 * raw ProviderMetadata (u16 size, name; no GUID), no blob type bytes, no End blob. The first record
 * is 6 bytes long, so its first byte (6) looks like a TraceLogging Event4 type byte: a reader that
 * walks _TlgBlob_t blobs misreads it.
 */
typedef unsigned char u8;

#pragma section(".rdata$etw0", read)
#pragma section(".rdata$etw1", read)
#pragma section(".rdata$etw2", read)

__declspec(allocate(".rdata$etw0")) __declspec(align(8)) const u8 etwHeader[16] = {
  'E','T','W','0', 16,0, 0, 1, 0x86,0x0e,0x04,0x88,0x2b,0x05,0x8a,0xbb};

__declspec(allocate(".rdata$etw1")) const u8 etwEvents[] = {
  6,0, 0, 'a','b',0,                                        /* "ab", no fields */
  22,0, 0, 'h','e','l','l','o',0, 'c','o','u','n','t',0, 8, 'm','s','g',0, 0x81, 0x02,
};

__declspec(allocate(".rdata$etw2")) const u8 etwProvider[] = {
  2+13,0, 'R','u','s','t','P','r','o','v','i','d','e','r',0,
};

__declspec(dllexport) const void* const etwAll[] = {etwHeader, etwEvents, etwProvider};

int __stdcall DllMain(void* h, unsigned reason, void* reserved) {
  (void)h; (void)reason; (void)reserved;
  return 1;
}
