/*
 * Host-CPU oracle harness for x86-64 Linux kernels that do not run i386 binaries: a freestanding x86-64
 * program (syscall instruction, no libc) that runs each snippet in 32-bit compatibility mode, in a flat
 * 32-bit code segment of its own (LDT entry 1), so the snippet sees the machine the i386 harness gives it:
 * the same fixed addresses below 4 GiB, flat 32-bit data and stack segments (the 64-bit flat data
 * selector), 16-bit code through the same LDT entry, FS and GS null. It reads and writes the same records
 * (harness.h; the record loop is harness-batch.c); case32.S enters and leaves the snippet as the i386
 * harness does, harness64.S switches modes around that, and runtime64.S leaves C and comes back. Built with -DSNIPPETS_IN_LONG_MODE around harness-long64.S
 * instead, it is the long-mode harness: no segments are made, and snippets (re-encoded as 64-bit code) run
 * in the harness's own code segment.
 *
 * Build (tests/oracle/host.ts does this per test run; harness64.bin is the same build, stripped, for
 * machines without gcc — rebuild it whenever this file, runtime64.S, harness64.S, case32.S,
 * harness-batch.c or harness.h changes):
 *   gcc -m64 -ffreestanding -nostdlib -static -fno-pie -no-pie -fno-stack-protector
 *       -fno-tree-loop-distribute-patterns -O2 -Wall -Wl,--build-id=none -fcf-protection=none
 *       -Wl,-Ttext-segment=0x8048000 harness64.c runtime64.S harness64.S case32.S harness-batch.c
 *       -o harness64.bin
 *   strip harness64.bin
 * -no-pie: the 32-bit code in case32.S addresses the harness's data with 32-bit absolute addresses.
 * -Ttext-segment: loaded where the i386 harness is, so the 32-bit address space looks the same to a snippet.
 *
 * Faults: the kernel delivers a 64-bit signal frame whatever mode the snippet was in; trapno, err and cr2
 * are the same thread fields an i386 frame reports, and the 32-bit registers are the low halves of the
 * 64-bit ones. The handler resumes in 64-bit code (CS, SS, RIP and RSP set in the ucontext).
 */
#include "harness.h"

/* Linux x86-64 system call numbers and flags used here. */
#define SYS_read 0
#define SYS_write 1
#define SYS_mmap 9
#define SYS_rt_sigaction 13
#define SYS_sigaltstack 131
#define SYS_modify_ldt 154
#define SYS_exit_group 231
#define MAP_PRIVATE_ANON_FIXED (0x02 | 0x20 | 0x10)

/* Linux's fixed x86-64 user selectors: 32-bit code (compatibility mode), 64-bit code, flat data. */
#define USER32_CS 0x23
#define USER_CS 0x33
#define USER_DS 0x2b

/* The 64-bit ucontext: uc_flags, uc_link, uc_stack (24 bytes), then struct sigcontext, in 8-byte slots. */
#define UC_MCONTEXT 40
enum { SC_R8, SC_R9, SC_R10, SC_R11, SC_R12, SC_R13, SC_R14, SC_R15, SC_RDI, SC_RSI, SC_RBP, SC_RBX,
       SC_RDX, SC_RAX, SC_RCX, SC_RSP, SC_RIP, SC_EFLAGS, SC_SEGS, SC_ERR, SC_TRAPNO, SC_OLDMASK, SC_CR2 };
typedef unsigned long u64;

/* Our flat 32-bit code segment: LDT entry 1 (entry 0 is the 16-bit one), TI = 1, RPL 3. */
#define LDT_CS32 0xf

/* runtime64.S */
extern void fault_resume(void);
extern void signal_restorer(void);
extern u64 host_rsp;
/* harness64.S */
extern u32 enter32_ptr[2], enter16_ptr[2]; /* far pointers into the flat 32-bit code segment */

static inline long syscall6(long n, long a, long b, long c, long d, long e, long f) {
  long r;
  register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return r;
}
#define syscall3(n, a, b, c) syscall6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)

int sys_read(int fd, void *buf, u32 n) { return (int)syscall3(SYS_read, fd, buf, n); }
int sys_write(int fd, const void *buf, u32 n) { return (int)syscall3(SYS_write, fd, buf, n); }
void sys_exit(int status) { syscall3(SYS_exit_group, status, 0, 0); for (;;) {} }

int sys_sigaltstack(void *base, u32 size) {
  struct { void *sp; int flags; u64 size; } ss = { base, 0, size };
  return (int)syscall3(SYS_sigaltstack, &ss, 0, 0);
}

int map_fixed(u32 addr, u32 prot) {
  return syscall6(SYS_mmap, addr, PAGE, prot, MAP_PRIVATE_ANON_FIXED, -1, 0) == (long)addr;
}

#ifdef SNIPPETS_IN_LONG_MODE
/* The long-mode build (harness-long64.S): snippets run in the harness's own 64-bit code segment. */
int make_code16_segment(void) { return 0; }
u32 flat_code_segment(void) { return USER_CS; }
#else
/* modify_ldt's struct user_desc: entry, base, limit, flags (bit 0 seg_32bit, 1-2 contents, 4 limit_in_pages, 6 useable). */
static int write_ldt(u32 entry, u32 base, u32 limit, u32 flags) {
  u32 desc[4] = { entry, base, limit, flags };
  return syscall3(SYS_modify_ldt, 1, desc, 16) == 0;
}

/* Code (contents 2), 16-bit. */
int make_code16_segment(void) { return write_ldt(0, CODE_ADDR, 0xffff, (2u << 1) | (1u << 6)); }

/* LAR: a present 32-bit (D = 1, L = 0) code segment user code can use. */
static int usable_code32(u32 sel) {
  u32 ar = 0;
  u8 ok;
  __asm__ volatile("larl %2, %0\n\tsetz %1" : "=r"(ar), "=q"(ok) : "r"(sel));
  return ok && (ar & 0x0060f800u) == 0x0040f800u; /* D L P DPL S code */
}

/*
 * Linux's GDT has a flat 32-bit user code segment (__USER32_CS, 0x23), but where IA32 emulation is off it
 * need not be usable (LAR fails on it under a hypervisor that runs 64-bit user code only). So make our
 * own in the LDT, and fall back to the GDT's on kernels without modify_ldt.
 */
u32 flat_code_segment(void) {
  u32 sel;
  if (write_ldt(1, 0, 0xfffff, 1u | (2u << 1) | (1u << 4) | (1u << 6))) sel = LDT_CS32;
  else if (usable_code32(USER32_CS)) sel = USER32_CS;
  else die("harness: no 32-bit code segment (modify_ldt failed, and __USER32_CS is unusable: no IA32 emulation)\n");
  enter32_ptr[1] = enter16_ptr[1] = sel;
  return sel;
}
#endif

static void on_fault(int sig, void *info, void *ucv) {
  (void)info;
  u64 *sc = (u64 *)((u8 *)ucv + UC_MCONTEXT);
  u16 *segs = (u16 *)&sc[SC_SEGS]; /* cs, gs, fs, ss */
  fault_signal = (u32)sig;
  fault_trapno = (u32)sc[SC_TRAPNO];
  fault_err = (u32)sc[SC_ERR];
  fault_eip = (u32)sc[SC_RIP];
  if (segs[0] == LDT_CS16) fault_eip += CODE_ADDR;
  fault_cr2 = (u32)sc[SC_CR2];
  out_regs[0] = (u32)sc[SC_RAX]; out_regs[1] = (u32)sc[SC_RCX]; out_regs[2] = (u32)sc[SC_RDX]; out_regs[3] = (u32)sc[SC_RBX];
  out_regs[4] = (u32)sc[SC_RSP]; out_regs[5] = (u32)sc[SC_RBP]; out_regs[6] = (u32)sc[SC_RSI]; out_regs[7] = (u32)sc[SC_RDI];
  out_eflags = (u32)sc[SC_EFLAGS];
  /* Resume in 64-bit mode at fault_resume on the harness's own stack, with a sane EFLAGS (DF clear, no TF). */
  sc[SC_RIP] = (u64)fault_resume;
  sc[SC_RSP] = host_rsp;
  sc[SC_EFLAGS] = 0x202;
  segs[0] = USER_CS;
  segs[3] = USER_DS;
}

void install_fault_handler(int sig) {
  struct { void (*handler)(int, void *, void *); u64 flags; void (*restorer)(void); u64 mask; } sa;
  sa.handler = on_fault;
  sa.flags = SA_SIGINFO | SA_ONSTACK | SA_RESTORER | SA_NODEFER;
  sa.restorer = signal_restorer;
  sa.mask = 0;
  if (syscall6(SYS_rt_sigaction, sig, (long)&sa, 0, 8, 0, 0) != 0) die("harness: rt_sigaction failed\n");
}
