/*
 * Host-CPU oracle harness for kernels that run i386 binaries: a freestanding i386 Linux program (int 0x80
 * system calls, no libc). This file holds its system calls and fault handler; the record loop, the
 * record formats and the fixed addresses are in harness-batch.c and harness.h, leaving C for the snippet
 * and coming back in runtime32.S, entering and leaving the snippet in case32.S.
 *
 * Build (tests/oracle/host.ts does this per test run; harness.bin is the same build, stripped, for
 * machines without a 32-bit-capable gcc — rebuild it whenever this file, runtime32.S, case32.S,
 * harness-batch.c or harness.h changes):
 *   gcc -m32 -ffreestanding -nostdlib -static -fno-pie -no-pie -fno-stack-protector
 *       -fno-tree-loop-distribute-patterns -O2 -Wall -Wl,--build-id=none
 *       harness.c runtime32.S case32.S harness-batch.c -o harness.bin
 *   strip harness.bin
 */
#include "harness.h"

/* Linux i386 system call numbers and flags used here. */
#define SYS_exit 1
#define SYS_read 3
#define SYS_write 4
#define SYS_modify_ldt 123
#define SYS_rt_sigaction 174
#define SYS_sigaltstack 186
#define SYS_mmap2 192
#define MAP_PRIVATE_ANON_FIXED (0x02 | 0x20 | 0x10)

/* Offsets into the i386 ucontext: uc_flags, uc_link, uc_stack (12 bytes), then struct sigcontext. */
#define UC_MCONTEXT 20
enum { SC_GS, SC_FS, SC_ES, SC_DS, SC_EDI, SC_ESI, SC_EBP, SC_ESP, SC_EBX, SC_EDX, SC_ECX, SC_EAX,
       SC_TRAPNO, SC_ERR, SC_EIP, SC_CS, SC_EFLAGS, SC_ESP_AT_SIGNAL, SC_SS, SC_FPSTATE, SC_OLDMASK, SC_CR2 };

/* runtime32.S */
extern void fault_resume(void);
extern void signal_restorer(void);

static u32 host_cs;

static inline int sys1(int n, u32 a) {
  int r; __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a) : "memory"); return r;
}
static inline int sys3(int n, u32 a, u32 b, u32 c) {
  int r; __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory"); return r;
}
static inline int sys4(int n, u32 a, u32 b, u32 c, u32 d) {
  int r; __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d) : "memory"); return r;
}

int sys_read(int fd, void *buf, u32 n) { return sys3(SYS_read, (u32)fd, (u32)buf, n); }
int sys_write(int fd, const void *buf, u32 n) { return sys3(SYS_write, (u32)fd, (u32)buf, n); }
void sys_exit(int status) { sys1(SYS_exit, (u32)status); for (;;) {} }

int sys_sigaltstack(void *base, u32 size) {
  struct { void *sp; int flags; u32 size; } ss = { base, 0, size };
  return sys3(SYS_sigaltstack, (u32)&ss, 0, 0);
}

/* mmap2(addr, len, prot, MAP_FIXED|MAP_PRIVATE|MAP_ANONYMOUS, fd = -1, 0). */
int map_fixed(u32 addr, u32 prot) {
  int r;
  u32 fd = 0xffffffffu;
  __asm__ volatile("pushl %%ebp\n\txorl %%ebp, %%ebp\n\tint $0x80\n\tpopl %%ebp"
                   : "=a"(r) : "a"(SYS_mmap2), "b"(addr), "c"(PAGE), "d"(prot), "S"(MAP_PRIVATE_ANON_FIXED), "D"(fd) : "memory");
  return (u32)r == addr;
}

int make_code16_segment(void) {
  /* struct user_desc: entry 0, base, limit, flags (seg_32bit 0, contents 2 = code, useable 1). */
  u32 desc[4] = { 0, CODE_ADDR, 0xffff, (2u << 1) | (1u << 6) };
  return sys3(SYS_modify_ldt, 1, (u32)desc, 16) == 0;
}

u32 flat_code_segment(void) {
  __asm__ volatile("movl %%cs, %0" : "=r"(host_cs));
  host_cs &= 0xffff;
  return host_cs;
}

static void on_fault(int sig, void *info, void *ucv) {
  (void)info;
  u32 *sc = (u32 *)((u8 *)ucv + UC_MCONTEXT);
  fault_signal = (u32)sig;
  fault_trapno = sc[SC_TRAPNO];
  fault_err = sc[SC_ERR];
  fault_eip = sc[SC_EIP];
  if ((sc[SC_CS] & 0xffff) == LDT_CS16) { fault_eip += CODE_ADDR; sc[SC_CS] = host_cs; }
  fault_cr2 = sc[SC_CR2];
  out_regs[0] = sc[SC_EAX]; out_regs[1] = sc[SC_ECX]; out_regs[2] = sc[SC_EDX]; out_regs[3] = sc[SC_EBX];
  out_regs[4] = sc[SC_ESP]; out_regs[5] = sc[SC_EBP]; out_regs[6] = sc[SC_ESI]; out_regs[7] = sc[SC_EDI];
  out_eflags = sc[SC_EFLAGS];
  /* Resume in fault_resume with a sane EFLAGS (DF clear, no TF); it restores the C stack itself. */
  sc[SC_EIP] = (u32)fault_resume;
  sc[SC_EFLAGS] = 0x202;
}

void install_fault_handler(int sig) {
  struct { void (*handler)(int, void *, void *); u32 flags; void (*restorer)(void); u32 mask[2]; } sa;
  sa.handler = on_fault;
  sa.flags = SA_SIGINFO | SA_ONSTACK | SA_RESTORER | SA_NODEFER;
  sa.restorer = signal_restorer;
  sa.mask[0] = sa.mask[1] = 0;
  if (sys4(SYS_rt_sigaction, (u32)sig, (u32)&sa, 0, 8) != 0) die("harness: rt_sigaction failed\n");
}

void _start(void) { harness_main(); }
