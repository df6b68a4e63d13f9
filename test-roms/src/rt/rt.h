/* Tiny runtime shared by the x86jit test ROMs: COM1 output, printf-lite, checks, exit.
 * The same header serves the bare-metal build (Multiboot, ring 0) and the HOST build
 * (a static Linux i386 program used to confirm expectations on the real CPU). */
#ifndef RT_H
#define RT_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;

#include <stdarg.h>

/* EFLAGS bits (Intel SDM vol. 1, 3.4.3) */
#define FL_CF 0x0001u
#define FL_PF 0x0004u
#define FL_AF 0x0010u
#define FL_ZF 0x0040u
#define FL_SF 0x0080u
#define FL_TF 0x0100u
#define FL_IF 0x0200u
#define FL_DF 0x0400u
#define FL_OF 0x0800u
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

void rt_putc(char c);
void rt_puts(const char *s);
void rt_printf(const char *fmt, ...);
void rt_vprintf(const char *fmt, va_list ap);
int rt_snprintf(char *buf, int size, const char *fmt, ...);
__attribute__((noreturn)) void rt_exit(u32 status);

/* Checks: every check prints exactly one line, PASS or FAIL. */
extern u32 rt_passed, rt_failed;
int rt_check(u32 got, u32 expected, const char *fmt, ...);
int rt_check_rf(u32 got_res, u32 got_fl, u32 exp_res, u32 exp_fl, const char *fmt, ...);
#define CHECK(got, expected, ...) rt_check((u32)(got), (u32)(expected), __VA_ARGS__)
/* Result + flags in one line; flags are compared as given (mask them before). */
#define CHECK_RF(gr, gf, er, ef, ...) rt_check_rf((u32)(gr), (u32)(gf), (u32)(er), (u32)(ef), __VA_ARGS__)
/* Prints "SUMMARY <name>: N passed, M failed" and exits 0 if no check failed, else 1. */
__attribute__((noreturn)) void rt_finish(const char *name);

/* Parity flag: set if the low byte has an even number of 1 bits. */
static inline u32 parity8(u32 v)
{
	v &= 0xff;
	v ^= v >> 4;
	v ^= v >> 2;
	v ^= v >> 1;
	return (v & 1) ? 0 : FL_PF;
}

void *memset(void *d, int c, unsigned n);
void *memcpy(void *d, const void *s, unsigned n);
int memcmp(const void *a, const void *b, unsigned n);

/* Each ROM defines this; its return value is ignored (use rt_finish). */
void test_main(void);

/* Interrupt frame built by rt/isr.S; handlers may change eip (and other fields) to resume elsewhere.
 * In the HOST build the fields come from the signal context (vector = trap number). */
struct frame {
	u32 gs, fs, es, ds;                              /* low 16 bits valid */
	u32 edi, esi, ebp, esp_pusha, ebx, edx, ecx, eax;
	u32 vector, error;                               /* error = 0 for vectors without one */
	u32 eip, cs, eflags;
};
typedef void (*rt_handler)(struct frame *f);
void rt_set_handler(int vector, rt_handler h);
rt_handler rt_get_handler(int vector);
/* Point every IDT vector at its stub and load the IDT (tables.c). */
void rt_idt_init(void);

#ifdef HOST
/* The program's arguments (argv[0] first, NULL-terminated), from the kernel's initial stack (rt/host.c). */
extern char **rt_host_argv;
#endif

#ifndef HOST
/* ---- bare-metal only ---- */
static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* Multiboot v1 information (the part we use) */
struct multiboot_info {
	u32 flags, mem_lower, mem_upper, boot_device, cmdline;
};
extern u32 rt_mb_magic;
extern struct multiboot_info *rt_mb_info;

/* Selectors of the runtime's GDT (rt/boot.S). Slots from GDT_FREE upwards are for tests. */
#define SEL_CODE32 0x08
#define SEL_DATA32 0x10
#define GDT_FREE 3
#define GDT_ENTRIES 32
void gdt_set(int index, u32 base, u32 limit, u8 access, u8 flags4);
/* access byte: P DPL S type; flags4: G D/B L AVL (upper nibble of byte 6) */

/* Rewrite IDT gate `vector` (all 256 have stubs): type 0xE interrupt / 0xF trap gate, dpl 0..3 */
void idt_set_gate(int vector, u16 selector, u32 offset, u8 type, u8 dpl);
void idt_set_present(int vector, int present);
extern u32 rt_isr_stubs[256];  /* addresses of the per-vector entry stubs */
#endif

#endif
