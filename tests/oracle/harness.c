/*
 * Host-CPU oracle harness: a freestanding i386 Linux program (int 0x80 system calls, no libc) that
 * runs x86 instruction snippets natively and reports the machine state after each one.
 *
 * Build (tests/oracle/host.ts does this per test run; harness.bin is the same build, stripped, for
 * machines without a 32-bit-capable gcc — rebuild it whenever this file or harness.S changes):
 *   gcc -m32 -ffreestanding -nostdlib -static -fno-pie -no-pie -fno-stack-protector
 *       -fno-tree-loop-distribute-patterns -O2 -Wall -Wl,--build-id=none harness.c harness.S -o harness.bin
 *   strip harness.bin
 *
 * Fixed guest-visible addresses (the emulator side maps the same ones, so pointer values agree):
 *   CODE_ADDR  0x00100000  one RWX page: the snippet, then "jmp case_done" (E9 rel32), rest filled with HLT
 *   DATA_ADDR  0x00200000  the 256-byte data buffer (in a zero-filled 4 KiB page)
 *   STACK_ADDR 0x00300000  the 256-byte stack area ESP points into (in a zero-filled 4 KiB page)
 *   LOW_ADDR   0x00008000  a 256-byte window that 16-bit addressing (67h) can reach; mapped only if the
 *                          kernel allows it (vm.mmap_min_addr <= 0x8000), else accesses there fault
 *
 * 16-bit code: a case with mode bit 0 set runs in a 16-bit code segment (LDT entry 0 made with
 * modify_ldt: base CODE_ADDR, limit 0xFFFF, D = 0), entered by a far jump to offset 0; the snippet is
 * followed by "66 EA case_done:flat-CS" instead of the near jump. EIPs reported stay linear
 * (CODE_ADDR + offset). If modify_ldt is unavailable such a case reports signal 255.
 *
 * Input (stdin): any number of 840-byte case records, little-endian, back to back, until EOF:
 *   off   size
 *     0      1   len        snippet length, 1..32
 *     1      1   mode       bit 0: run in the 16-bit code segment
 *     2      2   reserved   zero
 *     4     32   code       snippet bytes (len used)
 *    36     32   regs[8]    EAX ECX EDX EBX ESP EBP ESI EDI on entry
 *    68      4   eflags     on entry; only CF PF AF ZF SF DF OF (mask 0xCD5) are taken, the harness adds
 *                           IF and bit 1 (user mode cannot clear IF; TF/AC/NT/ID stay clear)
 *    72    256   data       contents of DATA_ADDR..+255
 *   328    256   stack      contents of STACK_ADDR..+255
 *   584    256   low        contents of LOW_ADDR..+255
 *
 * Output (stdout): one 828-byte result record per case, same order:
 *     0      4   signal     0 = the snippet ran to its end; else the Linux signal number it raised
 *     4      4   trapno     the CPU exception vector (sigcontext.trapno), valid when signal != 0
 *     8      4   err        the exception's error code as the kernel reports it, valid when signal != 0
 *    12      4   eip        CODE_ADDR + len at the end, or the EIP of the fault (next instruction for traps)
 *    16      4   cr2        faulting linear address for #PF (signal != 0)
 *    20     32   regs[8]    EAX ECX EDX EBX ESP EBP ESI EDI at the end / at the fault
 *    52      4   eflags     EFLAGS at the end / at the fault
 *    56    256   data       DATA_ADDR..+255 afterwards
 *   312    256   stack      STACK_ADDR..+255 afterwards
 *   568    256   low        LOW_ADDR..+255 afterwards
 *   824      4   stray      1 if the snippet wrote outside the 256-byte windows of their pages
 *                           (a generator bug: it means the emulator side could not see that write)
 *
 * Exit status: 0 after EOF, 2 for a malformed record or failed setup (message on stderr).
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

#define CODE_ADDR 0x00100000u
#define DATA_ADDR 0x00200000u
#define STACK_ADDR 0x00300000u
#define LOW_ADDR 0x00008000u
#define PAGE 4096u
#define WINDOW 256u
#define MAX_CODE 32u

#define IN_SIZE 840u
#define OUT_SIZE 828u

/* Linux i386 system call numbers and flags used here. */
#define SYS_exit 1
#define SYS_read 3
#define SYS_write 4
#define SYS_modify_ldt 123
#define SYS_rt_sigaction 174
#define SYS_sigaltstack 186
#define SYS_mmap2 192
#define PROT_RWX 7
#define PROT_RW 3
#define MAP_PRIVATE_ANON_FIXED (0x02 | 0x20 | 0x10)
#define SA_SIGINFO 0x00000004u
#define SA_ONSTACK 0x08000000u
#define SA_RESTORER 0x04000000u
#define SA_NODEFER 0x40000000u

/* Offsets into the i386 ucontext: uc_flags, uc_link, uc_stack (12 bytes), then struct sigcontext. */
#define UC_MCONTEXT 20
enum { SC_GS, SC_FS, SC_ES, SC_DS, SC_EDI, SC_ESI, SC_EBP, SC_ESP, SC_EBX, SC_EDX, SC_ECX, SC_EAX,
       SC_TRAPNO, SC_ERR, SC_EIP, SC_CS, SC_EFLAGS, SC_ESP_AT_SIGNAL, SC_SS, SC_FPSTATE, SC_OLDMASK, SC_CR2 };

/* Shared with harness.S. */
u32 case_regs[8];
u32 case_eflags;
u32 out_regs[8];
u32 out_eflags;
extern void run_snippet(void);
extern void run_snippet16(void);
extern u32 code16_entry[2];
extern void case_done(void);
extern void fault_resume(void);
extern void signal_restorer(void);

static volatile u32 fault_signal, fault_trapno, fault_err, fault_eip, fault_cr2;
static u8 in_rec[IN_SIZE];
static u8 out_buf[64 * OUT_SIZE];
static u32 out_len;
static u8 alt_stack[65536] __attribute__((aligned(16)));

static inline int sys1(int n, u32 a) {
  int r; __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a) : "memory"); return r;
}
static inline int sys3(int n, u32 a, u32 b, u32 c) {
  int r; __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory"); return r;
}
static inline int sys4(int n, u32 a, u32 b, u32 c, u32 d) {
  int r; __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d) : "memory"); return r;
}
/* The compiler may call these; REP MOVSB/STOSB are fast on current processors. */
void *memcpy(void *d, const void *s, u32 n) {
  void *r = d;
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  return r;
}
void *memset(void *d, int v, u32 n) {
  void *r = d;
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(v) : "memory");
  return r;
}

static void die(const char *msg) {
  u32 n = 0; while (msg[n]) n++;
  sys3(SYS_write, 2, (u32)msg, n);
  sys1(SYS_exit, 2);
}

/* mmap2(addr, len, prot, MAP_FIXED|MAP_PRIVATE|MAP_ANONYMOUS, fd = -1, 0). */
static int map_fixed(u32 addr, u32 prot) {
  int r;
  u32 fd = 0xffffffffu;
  __asm__ volatile("pushl %%ebp\n\txorl %%ebp, %%ebp\n\tint $0x80\n\tpopl %%ebp"
                   : "=a"(r) : "a"(SYS_mmap2), "b"(addr), "c"(PAGE), "d"(prot), "S"(MAP_PRIVATE_ANON_FIXED), "D"(fd) : "memory");
  return (u32)r == addr;
}
static int low_mapped;
static int ldt_ok;
static u32 host_cs;
#define LDT_CS16 0x7 /* LDT entry 0, TI = 1, RPL 3 */

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

static void install(int sig) {
  struct { void (*handler)(int, void *, void *); u32 flags; void (*restorer)(void); u32 mask[2]; } sa;
  sa.handler = on_fault;
  sa.flags = SA_SIGINFO | SA_ONSTACK | SA_RESTORER | SA_NODEFER;
  sa.restorer = signal_restorer;
  sa.mask[0] = sa.mask[1] = 0;
  if (sys4(SYS_rt_sigaction, (u32)sig, (u32)&sa, 0, 8) != 0) die("harness: rt_sigaction failed\n");
}

static int read_full(u8 *p, u32 n) {
  u32 got = 0;
  while (got < n) {
    int r = sys3(SYS_read, 0, (u32)(p + got), n - got);
    if (r <= 0) { if (got == 0) return 0; die("harness: truncated case record\n"); }
    got += (u32)r;
  }
  return 1;
}

static void flush_out(void) {
  u32 off = 0;
  while (off < out_len) {
    int r = sys3(SYS_write, 1, (u32)(out_buf + off), out_len - off);
    if (r <= 0) die("harness: write failed\n");
    off += (u32)r;
  }
  out_len = 0;
}

static void put32(u8 *p, u32 v) { p[0] = (u8)v; p[1] = (u8)(v >> 8); p[2] = (u8)(v >> 16); p[3] = (u8)(v >> 24); }
static u32 get32(const u8 *p) { return p[0] | (p[1] << 8) | (p[2] << 16) | ((u32)p[3] << 24); }

/* 1 if any byte of the page outside [0, WINDOW) is nonzero; clears them again. */
static u32 stray_and_clear(u8 *page) {
  u32 dirty = 0;
  for (u32 i = WINDOW; i < PAGE; i += 4) {
    if (*(u32 *)(page + i)) { dirty = 1; *(u32 *)(page + i) = 0; }
  }
  return dirty;
}

static void run_one(void) {
  u8 *code = (u8 *)CODE_ADDR, *data = (u8 *)DATA_ADDR, *stack = (u8 *)STACK_ADDR;
  u32 len = in_rec[0];
  if (len == 0 || len > MAX_CODE) die("harness: bad snippet length\n");
  u32 code16 = in_rec[1] & 1;
  memcpy(code, in_rec + 4, len);
  u32 tail = len;
  if (code16) {
    /* jmp far flat-CS:case_done with a 32-bit offset (66h in 16-bit code). */
    code[tail++] = 0x66; code[tail++] = 0xea;
    put32(code + tail, (u32)case_done); tail += 4;
    code[tail++] = (u8)host_cs; code[tail++] = (u8)(host_cs >> 8);
  } else {
    /* jmp case_done: E9 rel32, relative to the end of the jmp. */
    code[tail++] = 0xe9;
    put32(code + tail, (u32)case_done - (CODE_ADDR + tail + 4)); tail += 4;
  }
  for (u32 i = tail; i < MAX_CODE + 16; i++) code[i] = 0xf4;
  for (int i = 0; i < 8; i++) case_regs[i] = get32(in_rec + 36 + 4 * i);
  case_eflags = (get32(in_rec + 68) & 0xcd5u) | 0x202u;
  memcpy(data, in_rec + 72, WINDOW);
  memcpy(stack, in_rec + 328, WINDOW);
  if (low_mapped) memcpy((u8 *)LOW_ADDR, in_rec + 584, WINDOW);

  fault_signal = 0; fault_trapno = 0; fault_err = 0; fault_cr2 = 0;
  fault_eip = CODE_ADDR + len;
  if (code16 && !ldt_ok) fault_signal = 255;
  else if (code16) run_snippet16();
  else run_snippet();

  if (out_len + OUT_SIZE > sizeof out_buf) flush_out();
  u8 *o = out_buf + out_len;
  put32(o + 0, fault_signal);
  put32(o + 4, fault_trapno);
  put32(o + 8, fault_err);
  put32(o + 12, fault_eip);
  put32(o + 16, fault_cr2);
  for (int i = 0; i < 8; i++) put32(o + 20 + 4 * i, out_regs[i]);
  put32(o + 52, out_eflags);
  memcpy(o + 56, data, WINDOW);
  memcpy(o + 312, stack, WINDOW);
  if (low_mapped) memcpy(o + 568, (u8 *)LOW_ADDR, WINDOW); else memset(o + 568, 0, WINDOW);
  u32 stray = stray_and_clear(data) | stray_and_clear(stack) | (low_mapped ? stray_and_clear((u8 *)LOW_ADDR) : 0);
  put32(o + 824, stray);
  out_len += OUT_SIZE;
}

void _start(void) {
  struct { void *sp; int flags; u32 size; } ss = { alt_stack, 0, sizeof alt_stack };
  if (sys3(SYS_sigaltstack, (u32)&ss, 0, 0) != 0) die("harness: sigaltstack failed\n");
  if (!map_fixed(CODE_ADDR, PROT_RWX) || !map_fixed(DATA_ADDR, PROT_RW) || !map_fixed(STACK_ADDR, PROT_RW))
    die("harness: mmap2 MAP_FIXED failed\n");
  low_mapped = map_fixed(LOW_ADDR, PROT_RW);
  {
    /* struct user_desc: entry 0, base, limit, flags (seg_32bit 0, contents 2 = code, useable 1). */
    u32 desc[4] = { 0, CODE_ADDR, 0xffff, (2u << 1) | (1u << 6) };
    ldt_ok = sys3(SYS_modify_ldt, 1, (u32)desc, 16) == 0;
    __asm__ volatile("movl %%cs, %0" : "=r"(host_cs));
    host_cs &= 0xffff;
    code16_entry[0] = 0;
    code16_entry[1] = LDT_CS16;
  }
  memset((void *)CODE_ADDR, 0xf4, PAGE);
  install(4);  /* SIGILL: #UD */
  install(5);  /* SIGTRAP: #DB, #BP */
  install(7);  /* SIGBUS: #AC */
  install(8);  /* SIGFPE: #DE */
  install(11); /* SIGSEGV: #GP, #PF, #OF, #BR, #SS, #NP */
  while (read_full(in_rec, IN_SIZE)) run_one();
  flush_out();
  sys1(SYS_exit, 0);
  for (;;) {}
}
