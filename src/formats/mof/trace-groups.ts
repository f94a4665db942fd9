/**
 * Legacy kernel trace groups (EVENT_TRACE_GROUP_*, the high byte of a PERFINFO hook id) and the MOF
 * event category (class family under MSNT_SystemTrace) that describes each group's events: hook id
 * = group | event type. A Windows fact, shared by the kernel-write recognizer and event identity.
 */
export const TRACE_GROUP_MOF_CATEGORY: ReadonlyMap<number, string> = new Map([
  [0x0000, "EventTrace"],
  [0x0100, "DiskIo"],
  [0x0200, "PageFault"],
  [0x0300, "Process"],
  [0x0400, "FileIo"],
  [0x0500, "Thread"],
  [0x0600, "TcpIp"],
  [0x0800, "UdpIp"],
  [0x0900, "Registry"],
  [0x0b00, "SystemConfig"],
  [0x0d00, "WNFTrace"],
  [0x0e00, "Pool"],
  [0x0f00, "PerfInfo"],
  [0x1000, "Heap"],
  [0x1100, "Object"],
  [0x1200, "Power"],
  [0x1400, "Image"],
  [0x1700, "CritSec"],
  [0x1800, "StackWalk"],
  [0x1900, "UMS"],
  [0x1a00, "ALPC"],
  [0x1b00, "SplitIo"],
  [0x1c00, "ThreadPool"],
]);
