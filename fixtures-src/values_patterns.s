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
# loopw(count, table): an MSVC-shaped record loop counting up (xor esi,esi; … inc esi; add rdi,16;
# cmp esi,ebx; jb), its count a parameter: loopc1 passes 2, loopc2 passes 3. The descriptors named
# are those every call reaches (LT0, LT1), not LT2 (only loopc2's loop) nor what follows the table.
.org 0x140
loopw:
  push rbx
  push rsi
  push rdi
  sub rsp, 0x20
  mov ebx, ecx
  xor esi, esi
  test ebx, ebx
  je 2f
  mov rdi, rdx
1:
  mov rcx, qword ptr [rip + HANDLE]
  mov rdx, rdi
  call qword ptr [rip + IAT_EtwWrite]
  inc esi
  add rdi, 16
  cmp esi, ebx
  jb 1b
2:
  add rsp, 0x20
  pop rdi
  pop rsi
  pop rbx
  ret
.org 0x1a0
loopc1:
  sub rsp, 0x28
  lea rdx, [rip + LT0]
  mov ecx, 2
  call loopw
  add rsp, 0x28
  ret
.org 0x1c0
loopc2:
  sub rsp, 0x28
  lea rdx, [rip + LT0]
  mov ecx, 3
  call loopw
  add rsp, 0x28
  ret
.org 0x800
D1: .byte 1,0,0,0x10,4,0,5,0, 0,0,0,0,0,0,0,0x80
D2: .byte 2,0,1,0x11,5,1,6,0, 1,0,0,0,0,0,0,0x40
GUID: .byte 0x44,0x33,0x22,0x11,0x66,0x55,0x88,0x77,0x99,0xaa,0xbb,0xcc,0xdd,0xee,0xff,0x00
HANDLE: .quad 0
IAT_EtwWrite: .quad 0
IAT_EtwRegister: .quad 0
.org 0x850
LT0: .byte 3,0,0,0x10,4,0,7,0, 0,0,0,0,0,0,0,0x80
LT1: .byte 4,0,0,0x10,4,0,7,0, 0,0,0,0,0,0,0,0x80
LT2: .byte 5,0,0,0x10,4,0,7,0, 0,0,0,0,0,0,0,0x80
LT3: .byte 6,0,0,0x10,4,0,7,0, 0,0,0,0,0,0,0,0x80
