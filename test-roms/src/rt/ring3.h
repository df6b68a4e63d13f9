/* Ring-3 excursions for the protected-mode ROMs (hypercall, paging, exceptions-pm): DPL3 code/data
 * descriptors, a 32-bit TSS (SS0:ESP0, optional I/O permission bitmap) and a call into ring 3 that
 * returns when the ring-3 code executes INT 0x81 (a DPL3 gate). */
#ifndef RING3_H
#define RING3_H
#include "rt.h"

#define SEL_UCODE 0x1b   /* GDT slot 3, DPL3 code, RPL3 */
#define SEL_UDATA 0x23   /* GDT slot 4, DPL3 data, RPL3 */
#define SEL_TSS   0x28   /* GDT slot 5 */
#define RING3_RETURN_VECTOR 0x81

struct tss {
	u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	u32 eax, ecx, edx, ebx, esp, ebp, esi, edi, es, cs, ss, ds, fs, gs, ldt;
	u16 trap, iomap_base;
	u8 iomap[0x400 / 8 + 1];   /* ports 0..0x3ff, plus the all-ones terminator byte */
} __attribute__((packed));
extern struct tss ring3_tss;

/* Sets up GDT slots 3-5, loads TR (no I/O bitmap), installs the INT 0x81 return gate. */
void ring3_init(void);
/* With `enable`, the TSS limit covers an I/O bitmap in which only `port` is allowed; else no bitmap
 * (every IN/OUT from ring 3 with IOPL 0 faults). Reloads TR. */
void ring3_set_iomap(int enable, u16 port);
/* Runs entry() in ring 3 (EFLAGS 0x2: IF=0, IOPL=0) on the stack ending at user_esp; returns the
 * EAX the ring-3 code had at INT 0x81. Callee-saved registers are preserved. */
u32 ring3_call(void (*entry)(void), u32 user_esp);
extern u32 ring3_saved_esp;
/* The INT 0x81 gate target. Also a resume point for a handler that gives up on faulting ring-3 code:
 * set frame->eip = (u32)ring3_return, frame->cs = SEL_CODE32, frame->eflags = 0x2; the IRET then
 * stays in ring 0 and ring3_call returns (EAX = frame->eax). */
void ring3_return(void);
#endif
