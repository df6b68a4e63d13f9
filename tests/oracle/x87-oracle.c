/* The host CPU's x87 as an oracle for src/cpu/fpu (tests/x87-arith.test.ts).
 *
 * Reads lines "OP CW A [B]" on stdin and prints "OP CW A [B] -> R... SW" per line, where CW is the
 * control word (hex), operands and results are bit patterns in hex (80-bit extended values as 20 digits,
 * sign+exponent first; m32/m64/m16 as 8/16/4 digits; packed BCD as 20 digits), and SW is the status word
 * after the instruction (FNSTSW) with TOP masked out. Every instruction runs after FNINIT, FLDCW CW and
 * FNCLEX, with ST0 = A and ST1 = B where there are two operands. With exceptions unmasked in CW, the
 * status word shows ES and B, and a result the x87 did not store shows as the old ST0 (register
 * destinations) or as the a5a5… filler (memory destinations).
 *
 * Build: gcc -O1 -o x87-oracle tests/oracle/x87-oracle.c   (64-bit code: the x87 works there too)
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct { uint64_t sig; uint16_t se; } __attribute__((packed)) f80;

static int parse80(const char *s, f80 *v) {
  if (strlen(s) != 20) return 0;
  char hi[5], lo[17];
  memcpy(hi, s, 4); hi[4] = 0; memcpy(lo, s + 4, 16); lo[16] = 0;
  unsigned long long l; unsigned h;
  if (sscanf(hi, "%x", &h) != 1 || sscanf(lo, "%llx", &l) != 1) return 0;
  v->se = (uint16_t)h; v->sig = l;
  return 1;
}
static void print80(const f80 *v) { printf(" %04x%016llx", v->se, (unsigned long long)v->sig); }

/* FNSAVE's 32-bit protected-mode image: reading results through it never waits, so an unmasked exception
 * stays pending (FNINIT of the next line clears it) instead of trapping */
typedef struct { uint32_t cw, sw, tw, fip, fcs, fdp, fds; f80 st[8]; } __attribute__((packed)) fsave_area;

#define PRE "fninit\n fldcw %[cw]\n"
/* instead of FNCLEX: C3 C2 C1 C0 all set before the instruction, so the output shows which it writes */
__attribute__((used)) static fsave_area ctx;
#define CODES "fnstenv ctx(%%rip)\n orw $0x4700, ctx+4(%%rip)\n fldenv ctx(%%rip)\n"
#define SW_MASK 0xc7ff /* without TOP */

int main(void) {
  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    char op[16], as[32] = "", bs[32] = "";
    unsigned cwu;
    line[strcspn(line, "\r\n")] = 0;
    if (line[0] == 0 || line[0] == '#') continue;
    int n = sscanf(line, "%15s %x %31s %31s", op, &cwu, as, bs);
    if (n < 3) { printf("%s -> error\n", line); continue; }
    uint16_t cw = (uint16_t)cwu, sw = 0;
    f80 a = {0}, b = {0}, r0 = {0};
    fsave_area env;
    int two = 0;
    printf("%s ->", line);
#define BIN(INSN)                                                                          \
    if (!strcmp(op, #INSN)) {                                                              \
      parse80(as, &a); parse80(bs, &b);                                                    \
      __asm__ volatile(PRE "fldt %[b]\n fldt %[a]\n " CODES " " #INSN " %%st(1), %%st\n"    \
                       "fnstsw %[sw]\n fnsave %[env]\n"                                        \
                       : [sw] "=m"(sw), [env] "=m"(env) : [cw] "m"(cw), [a] "m"(a), [b] "m"(b));  \
      print80(&env.st[0]);                                                                 \
    } else
#define UN(INSN)                                                                           \
    if (!strcmp(op, #INSN)) {                                                              \
      parse80(as, &a);                                                                     \
      __asm__ volatile(PRE "fldt %[a]\n " CODES " " #INSN "\n fnstsw %[sw]\n fnsave %[env]\n" \
                       : [sw] "=m"(sw), [env] "=m"(env) : [cw] "m"(cw), [a] "m"(a));       \
      print80(&env.st[0]);                                                                 \
    } else
/* ST0 = A, ST1 = B, an instruction on both that leaves both (FSCALE, FPREM, FPREM1): prints ST0 */
#define PAIR(INSN)                                                                         \
    if (!strcmp(op, #INSN)) {                                                              \
      parse80(as, &a); parse80(bs, &b);                                                    \
      __asm__ volatile(PRE "fldt %[b]\n fldt %[a]\n " CODES " " #INSN "\n"                   \
                       "fnstsw %[sw]\n fnsave %[env]\n"                                        \
                       : [sw] "=m"(sw), [env] "=m"(env) : [cw] "m"(cw), [a] "m"(a), [b] "m"(b));  \
      print80(&env.st[0]);                                                                 \
    } else
/* ST0 = A above a 0: an instruction that may push, prints ST0 and ST1 */
#define UN2(INSN)                                                                          \
    if (!strcmp(op, #INSN)) {                                                              \
      parse80(as, &a);                                                                     \
      __asm__ volatile(PRE "fldz\n fldt %[a]\n " CODES " " #INSN "\n fnstsw %[sw]\n fnsave %[env]\n"     \
                       : [sw] "=m"(sw), [env] "=m"(env) : [cw] "m"(cw), [a] "m"(a));       \
      print80(&env.st[0]); print80(&env.st[1]); two = 1;                                   \
    } else
/* compares: only the status word */
#define CMP(INSN)                                                                          \
    if (!strcmp(op, #INSN)) {                                                              \
      parse80(as, &a); parse80(bs, &b);                                                    \
      __asm__ volatile(PRE "fldt %[b]\n fldt %[a]\n " CODES " " #INSN " %%st(1)\n"           \
                       "fnstsw %[sw]\n fnsave %[env]\n"                                        \
                       : [sw] "=m"(sw), [env] "=m"(env) : [cw] "m"(cw), [a] "m"(a), [b] "m"(b));  \
    } else
/* loads of a memory operand of TYPE from hex A: prints the 80-bit ST0 */
#define LOAD(NAME, INSN, TYPE, FMT)                                                        \
    if (!strcmp(op, NAME)) {                                                               \
      TYPE m = 0; unsigned long long t = 0; sscanf(as, "%llx", &t); m = (TYPE)t;           \
      __asm__ volatile(PRE "" CODES " " INSN " %[m]\n fnstsw %[sw]\n fnsave %[env]\n"       \
                       : [sw] "=m"(sw), [env] "=m"(env) : [cw] "m"(cw), [m] "m"(m));       \
      print80(&env.st[0]);                                                                 \
    } else
/* stores of the 80-bit A to memory of TYPE (popping): prints the stored bits */
#define STORE(NAME, INSN, TYPE, DIGITS)                                                    \
    if (!strcmp(op, NAME)) {                                                               \
      TYPE m = (TYPE)0xa5a5a5a5a5a5a5a5ull; parse80(as, &a);                               \
      __asm__ volatile(PRE "fldt %[a]\n " CODES " " INSN " %[m]\n fnstsw %[sw]\n fnsave %[env]\n" \
                       : [sw] "=m"(sw), [m] "+m"(m), [env] "=m"(env) : [cw] "m"(cw), [a] "m"(a)); \
      printf(" %0" #DIGITS "llx", (unsigned long long)m);                                  \
    } else
    BIN(fadd) BIN(fsub) BIN(fsubr) BIN(fmul) BIN(fdiv) BIN(fdivr)
    UN(fsqrt) UN(frndint) UN(fabs) UN(fchs)
    PAIR(fscale) PAIR(fprem) PAIR(fprem1)
    UN(fsin) UN(fcos) UN(f2xm1)
    /* ST0 = A (x), ST1 = B (y); the result replaces ST1 and the stack pops: prints the new ST0 */
    PAIR(fyl2x) PAIR(fyl2xp1) PAIR(fpatan)
    /* one operand, two results pushed (FPTAN: tan, 1.0; FSINCOS: sin, cos): prints ST0 and ST1. Out of
     * range (C2) and unmasked-exception cases push nothing: ST1 is then the empty register's 0 filler */
    UN2(fptan) UN2(fsincos)
    CMP(fcom) CMP(fucom)
    if (!strcmp(op, "fxtract")) {
      parse80(as, &a);
      __asm__ volatile(PRE "fldt %[a]\n " CODES"fxtract\n fnstsw %[sw]\n fnsave %[env]\n"
                       : [sw] "=m"(sw), [env] "=m"(env) : [cw] "m"(cw), [a] "m"(a));
      print80(&env.st[0]); print80(&env.st[1]); two = 1;
    } else if (!strcmp(op, "fxam") || !strcmp(op, "ftst")) {
      parse80(as, &a);
      if (op[1] == 'x')
        __asm__ volatile(PRE "fldt %[a]\n " CODES"fxam\n fnstsw %[sw]\n fnsave %[env]\n"
                         : [sw] "=m"(sw), [env] "=m"(env) : [cw] "m"(cw), [a] "m"(a));
      else
        __asm__ volatile(PRE "fldt %[a]\n " CODES"ftst\n fnstsw %[sw]\n fnsave %[env]\n"
                         : [sw] "=m"(sw), [env] "=m"(env) : [cw] "m"(cw), [a] "m"(a));
    } else
    LOAD("fld32", "flds", uint32_t, 8) LOAD("fld64", "fldl", uint64_t, 16)
    LOAD("fild16", "filds", uint16_t, 4) LOAD("fild32", "fildl", uint32_t, 8) LOAD("fild64", "fildll", uint64_t, 16)
    STORE("fst32", "fstps", uint32_t, 8) STORE("fst64", "fstpl", uint64_t, 16)
    STORE("fist16", "fistps", uint16_t, 4) STORE("fist32", "fistpl", uint32_t, 8) STORE("fist64", "fistpll", uint64_t, 16)
    if (!strcmp(op, "fld80")) {
      parse80(as, &a);
      __asm__ volatile(PRE "" CODES"fldt %[a]\n fnstsw %[sw]\n fnsave %[env]\n"
                       : [sw] "=m"(sw), [env] "=m"(env) : [cw] "m"(cw), [a] "m"(a));
      print80(&env.st[0]);
    } else if (!strcmp(op, "fbld")) {
      parse80(as, &a);
      __asm__ volatile(PRE "" CODES"fbld %[a]\n fnstsw %[sw]\n fnsave %[env]\n"
                       : [sw] "=m"(sw), [env] "=m"(env) : [cw] "m"(cw), [a] "m"(a));
      print80(&env.st[0]);
    } else if (!strcmp(op, "fbstp")) {
      parse80(as, &a);
      r0.se = 0xa5a5; r0.sig = 0xa5a5a5a5a5a5a5a5ull;
      __asm__ volatile(PRE "fldt %[a]\n " CODES"fbstp %[r0]\n fnstsw %[sw]\n fnsave %[env]\n"
                       : [sw] "=m"(sw), [r0] "+m"(r0), [env] "=m"(env) : [cw] "m"(cw), [a] "m"(a));
      print80(&r0);
    } else {
      printf(" error\n");
      continue;
    }
    (void)two;
    printf(" %04x\n", sw & SW_MASK);
  }
  return 0;
}
