# Hand-written x64 patterns for test/analysis/values.test.ts (value resolution, registrations,
# wrappers). Build: llvm-mc-14 -triple=x86_64-pc-linux -filetype=obj values_patterns.s -o v.o &&
#   llvm-objcopy-14 -O binary --only-section=.text v.o ../fixtures/values_patterns.bin
# The test maps the blob at RVA 0x1000 of a synthetic PE (all references are RIP-relative).
.intel_syntax noprefix
.text
.org 0x0
f1:
  push rbx
  sub rsp, 0x40
  mov rcx, qword ptr [rip + HANDLE]
  lea rdx, [rip + D1]
  lea rax, [rip + D2]
  test ebx, ebx
  cmovne rdx, rax
  mov dword ptr [rsp+0x20], 7
  call qword ptr [rip + IAT_EtwWrite]
  add rsp, 0x40
  pop rbx
  ret
.org 0x40
f2:
  sub rsp, 0x58
  movups xmm0, xmmword ptr [rip + D1]
  movups xmmword ptr [rsp+0x30], xmm0
  mov byte ptr [rsp+0x34], 2
  lea rdx, [rsp+0x30]
  mov rcx, qword ptr [rip + HANDLE]
  call qword ptr [rip + IAT_EtwWrite]
  add rsp, 0x58
  ret
.org 0x80
f3:
  sub rsp, 0x38
  lea r9, [rsp+0x28]
  xor r8d, r8d
  xor edx, edx
  lea rcx, [rip + GUID]
  call qword ptr [rip + IAT_EtwRegister]
  mov rax, qword ptr [rsp+0x28]
  xchg qword ptr [rip + HANDLE], rax
  add rsp, 0x38
  ret
.org 0xc0
wrap:
  push rbp
  mov rbp, rsp
  sub rsp, 0x30
  mov qword ptr [rbp-8], rdx
  mov rcx, qword ptr [rcx]
  mov rdx, qword ptr [rbp-8]
  call qword ptr [rip + IAT_EtwWrite]
  add rsp, 0x30
  pop rbp
  ret
.org 0x100
caller:
  sub rsp, 0x28
  lea rcx, [rip + HANDLE]
  lea rdx, [rip + D2]
  call wrap
  add rsp, 0x28
  ret
.org 0x800
D1: .byte 1,0,0,0x10,4,0,5,0, 0,0,0,0,0,0,0,0x80
D2: .byte 2,0,1,0x11,5,1,6,0, 1,0,0,0,0,0,0,0x40
GUID: .byte 0x44,0x33,0x22,0x11,0x66,0x55,0x88,0x77,0x99,0xaa,0xbb,0xcc,0xdd,0xee,0xff,0x00
HANDLE: .quad 0
IAT_EtwWrite: .quad 0
IAT_EtwRegister: .quad 0
