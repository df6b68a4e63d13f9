/* Issue 15.4: PIT channel 0 in mode 2 with a tiny count (PIT_COUNT: 2 or 100), an IRQ0 handler that
 * counts ticks (the dword at 0x500) and sends EOI, and `sti; hlt` in a loop. Must sleep from edge to edge,
 * never end as a halt. */
#include "common.h"
_start:
	FLAT_GDT
	lidt [idtr]
	/* Master PIC: vectors 0x20-0x27, only IRQ0 unmasked. */
	mov al, 0x11
	out 0x20, al
	mov al, 0x20
	out 0x21, al
	mov al, 4
	out 0x21, al
	mov al, 1
	out 0x21, al
	mov al, 0xfe
	out 0x21, al
	/* PIT channel 0: mode 2, lobyte/hibyte. */
	mov al, 0x34
	out 0x43, al
	mov al, PIT_COUNT & 0xff
	out 0x40, al
	mov al, PIT_COUNT >> 8
	out 0x40, al
top:	sti
	hlt
	jmp top
irq0:	push eax
	inc dword ptr [0x500]
	mov al, 0x20
	out 0x20, al
	pop eax
	iret
	GDT_DATA
	IDT_WITH_GATE 0x20, irq0
