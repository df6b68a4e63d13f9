/*
 * Host-CPU oracle harness: what the two native harnesses share. Each is a freestanding Linux program (no
 * libc) that runs x86 instruction snippets natively and reports the machine state after each one:
 *   harness.c + runtime32.S + case32.S   an i386 program (needs a kernel that runs i386 binaries)
 *   harness64.c + runtime64.S + harness64.S + case32.S   an x86-64 program running the snippets in a
 *                              32-bit compatibility-mode code segment (x86-64 Linux kernels that allow
 *                              32-bit code segments)
 *   harness64.c -DSNIPPETS_IN_LONG_MODE + runtime64.S + harness-long64.S   an x86-64 program running
 *                              snippets that tests/oracle/long64.ts re-encoded as 64-bit code (any x86-64 Linux)
 * All use harness-batch.c, the record loop below. The .c files hold the system calls and the fault
 * handler; runtime32.S and runtime64.S leave C for the snippet and come back; case32.S enters and leaves
 * a 32-bit or 16-bit snippet (harness64.S switches into compatibility mode around it), harness-long64.S
 * a 64-bit one.
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
typedef unsigned long uptr; /* pointer-sized on i386 and x86-64 */

#define CODE_ADDR 0x00100000u
#define DATA_ADDR 0x00200000u
#define STACK_ADDR 0x00300000u
#define LOW_ADDR 0x00008000u
#define PAGE 4096u
#define WINDOW 256u
#define MAX_CODE 32u

#define IN_SIZE 840u
#define OUT_SIZE 828u

#define PROT_RWX 7
#define PROT_RW 3
#define LDT_CS16 0x7 /* LDT entry 0, TI = 1, RPL 3 */

/* Signal action flags (the same values on i386 and x86-64). */
#define SA_SIGINFO 0x00000004u
#define SA_ONSTACK 0x08000000u
#define SA_RESTORER 0x04000000u
#define SA_NODEFER 0x40000000u

/* One case's state, shared by harness-batch.c, the assembly and the fault handler. */
extern u32 case_regs[8];
extern u32 case_eflags;
extern u32 out_regs[8];
extern u32 out_eflags;
extern volatile u32 fault_signal, fault_trapno, fault_err, fault_eip, fault_cr2;
/* Far pointer (offset, selector) to offset 0 of the 16-bit code segment. */
extern u32 code16_entry[2];

/* The assembly: enter the snippet (flat 32-bit or 16-bit code), and where its trailer jumps back to. */
void run_snippet(void);
void run_snippet16(void);
void case_done(void);

/* The platform file: system calls and fault handling. */
int sys_read(int fd, void *buf, u32 n);
int sys_write(int fd, const void *buf, u32 n);
__attribute__((noreturn)) void sys_exit(int status);
int sys_sigaltstack(void *base, u32 size);
/* Map one zero-filled page at addr (MAP_FIXED); 1 if it is there. */
int map_fixed(u32 addr, u32 prot);
/* LDT entry 0 as the 16-bit code segment (modify_ldt); 1 on success. */
int make_code16_segment(void);
/* The flat 32-bit code segment snippets run in (made first if need be): its selector, for the 16-bit trailer. */
u32 flat_code_segment(void);
/* Report faults in the snippet: record them (fault_* and out_*) and resume outside the snippet. */
void install_fault_handler(int sig);

/* harness-batch.c */
void *memcpy(void *d, const void *s, __SIZE_TYPE__ n);
void *memset(void *d, int v, __SIZE_TYPE__ n);
__attribute__((noreturn)) void die(const char *msg);
/* Set everything up, then run the case records on stdin until EOF. */
__attribute__((noreturn)) void harness_main(void);
