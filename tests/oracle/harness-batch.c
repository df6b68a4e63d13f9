/*
 * Host-CPU oracle harness, the part all three harnesses share (record format and addresses: harness.h):
 * setting up the fixed pages, then per case record: write the snippet and its trailer, load the
 * windows, run it, and write the result record.
 */
#include "harness.h"

u32 case_regs[8];
u32 case_eflags;
u32 out_regs[8];
u32 out_eflags;
volatile u32 fault_signal, fault_trapno, fault_err, fault_eip, fault_cr2;
u32 code16_entry[2];

static u8 in_rec[IN_SIZE];
static u8 out_buf[64 * OUT_SIZE];
static u32 out_len;
static u8 alt_stack[65536] __attribute__((aligned(16)));
static int low_mapped;
static int ldt_ok;
static u32 flat_cs;

/* The compiler may call these; REP MOVSB/STOSB are fast on current processors. */
void *memcpy(void *d, const void *s, __SIZE_TYPE__ n) {
  void *r = d;
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  return r;
}
void *memset(void *d, int v, __SIZE_TYPE__ n) {
  void *r = d;
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(v) : "memory");
  return r;
}

void die(const char *msg) {
  u32 n = 0; while (msg[n]) n++;
  sys_write(2, msg, n);
  sys_exit(2);
}

static int read_full(u8 *p, u32 n) {
  u32 got = 0;
  while (got < n) {
    int r = sys_read(0, p + got, n - got);
    if (r <= 0) { if (got == 0) return 0; die("harness: truncated case record\n"); }
    got += (u32)r;
  }
  return 1;
}

static void flush_out(void) {
  u32 off = 0;
  while (off < out_len) {
    int r = sys_write(1, out_buf + off, out_len - off);
    if (r <= 0) die("harness: write failed\n");
    off += (u32)r;
  }
  out_len = 0;
}

static void put32(u8 *p, u32 v) { p[0] = (u8)v; p[1] = (u8)(v >> 8); p[2] = (u8)(v >> 16); p[3] = (u8)(v >> 24); }
static u32 get32(const u8 *p) { return p[0] | (p[1] << 8) | (p[2] << 16) | ((u32)p[3] << 24); }
static u8 *at(u32 addr) { return (u8 *)(uptr)addr; }

/* 1 if any byte of the page outside [0, WINDOW) is nonzero; clears them again. */
static u32 stray_and_clear(u8 *page) {
  u32 dirty = 0;
  for (u32 i = WINDOW; i < PAGE; i += 4) {
    if (*(u32 *)(page + i)) { dirty = 1; *(u32 *)(page + i) = 0; }
  }
  return dirty;
}

/* Load the case in in_rec into the fixed pages and registers and run it (fault_* and out_* get the outcome). */
static void run_case(void) {
  u8 *code = at(CODE_ADDR);
  u32 len = in_rec[0];
  if (len == 0 || len > MAX_CODE) die("harness: bad snippet length\n");
  u32 code16 = in_rec[1] & 1;
  u32 done = (u32)(uptr)case_done;
  memcpy(code, in_rec + 4, len);
  u32 tail = len;
  if (code16) {
    /* jmp far flat-CS:case_done with a 32-bit offset (66h in 16-bit code). */
    code[tail++] = 0x66; code[tail++] = 0xea;
    put32(code + tail, done); tail += 4;
    code[tail++] = (u8)flat_cs; code[tail++] = (u8)(flat_cs >> 8);
  } else {
    /* jmp case_done: E9 rel32, relative to the end of the jmp. */
    code[tail++] = 0xe9;
    put32(code + tail, done - (CODE_ADDR + tail + 4)); tail += 4;
  }
  for (u32 i = tail; i < MAX_CODE + 16; i++) code[i] = 0xf4;
  for (int i = 0; i < 8; i++) case_regs[i] = get32(in_rec + 36 + 4 * i);
  case_eflags = (get32(in_rec + 68) & 0xcd5u) | 0x202u;
  memcpy(at(DATA_ADDR), in_rec + 72, WINDOW);
  memcpy(at(STACK_ADDR), in_rec + 328, WINDOW);
  if (low_mapped) memcpy(at(LOW_ADDR), in_rec + 584, WINDOW);

  fault_signal = 0; fault_trapno = 0; fault_err = 0; fault_cr2 = 0;
  fault_eip = CODE_ADDR + len;
  if (code16 && !ldt_ok) fault_signal = 255;
  else if (code16) run_snippet16();
  else run_snippet();
}

/* Append the result record of the case just run. */
static void put_result(void) {
  u8 *data = at(DATA_ADDR), *stack = at(STACK_ADDR);
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
  if (low_mapped) memcpy(o + 568, at(LOW_ADDR), WINDOW); else memset(o + 568, 0, WINDOW);
  u32 stray = stray_and_clear(data) | stray_and_clear(stack) | (low_mapped ? stray_and_clear(at(LOW_ADDR)) : 0);
  put32(o + 824, stray);
  out_len += OUT_SIZE;
}

/*
 * A NOP must run to its end before any real case: otherwise every case would report the same fault. (A
 * kernel can refuse 32-bit code segments: some hypervisors run 64-bit user code only.)
 */
static void check_nop(void) {
  memset(in_rec, 0, IN_SIZE);
  in_rec[0] = 1;
  in_rec[4] = 0x90;
  put32(in_rec + 36 + 4 * 4, STACK_ADDR + 0x80);
  run_case();
  if (fault_signal) die("harness: a NOP snippet faulted: this kernel cannot run 32-bit code in the harness's code segment\n");
}

void harness_main(void) {
  if (sys_sigaltstack(alt_stack, sizeof alt_stack) != 0) die("harness: sigaltstack failed\n");
  if (!map_fixed(CODE_ADDR, PROT_RWX) || !map_fixed(DATA_ADDR, PROT_RW) || !map_fixed(STACK_ADDR, PROT_RW))
    die("harness: mmap MAP_FIXED failed\n");
  low_mapped = map_fixed(LOW_ADDR, PROT_RW);
  ldt_ok = make_code16_segment();
  flat_cs = flat_code_segment();
  code16_entry[0] = 0;
  code16_entry[1] = LDT_CS16;
  memset(at(CODE_ADDR), 0xf4, PAGE);
  install_fault_handler(4);  /* SIGILL: #UD */
  install_fault_handler(5);  /* SIGTRAP: #DB, #BP */
  install_fault_handler(7);  /* SIGBUS: #AC */
  install_fault_handler(8);  /* SIGFPE: #DE */
  install_fault_handler(11); /* SIGSEGV: #GP, #PF, #OF, #BR, #SS, #NP */
  check_nop();
  while (read_full(in_rec, IN_SIZE)) { run_case(); put_result(); }
  flush_out();
  sys_exit(0);
}
