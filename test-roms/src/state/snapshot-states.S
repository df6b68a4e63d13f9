/* Snapshot states: a guest that passes through every state a snapshot must capture exactly — halted in
 * `sti; hlt` waiting for the PIT (and the STI shadow before it), inside REP STOSD/MOVSD of more than one
 * chunk, with IRQ0 pending while IF = 0, paging on with a warm TLB, and bytes waiting in the UART's receive
 * FIFO (the host queues 32 bytes before the run, two of which the FIFO reset at initialisation drops; the timer handler takes one per tick, 24 in all). Its output ends
 * with the tick count and checksums, so any difference in timing or memory shows in the text.
 * tests/snapshot.test.ts runs it as a raw image: --load 0x100000 --entry 0x100000. */
#include "../limits/common.h"
#define COM1 0x3f8
#define TICKS 0x500          /* dword: IRQ0 count */
#define RECEIVED 0x504       /* dword: bytes taken from the UART */
#define INBUF 0x600          /* the bytes taken */
#define INPUT_BYTES 24
_start:
	FLAT_GDT
	lidt [idtr]
	/* PICs: master vectors 0x20-0x27 with only IRQ0 unmasked; slave 0x28-0x2f, all masked. */
	mov al, 0x11
	out 0x20, al
	out 0xa0, al
	mov al, 0x20
	out 0x21, al
	mov al, 0x28
	out 0xa1, al
	mov al, 4
	out 0x21, al
	mov al, 2
	out 0xa1, al
	mov al, 1
	out 0x21, al
	out 0xa1, al
	mov al, 0xfe
	out 0x21, al
	mov al, 0xff
	out 0xa1, al
	/* UART: 8N1, FIFOs on and cleared (trigger 1), no UART interrupts (the timer polls it). */
	mov dx, COM1 + 3
	mov al, 3
	out dx, al
	mov dx, COM1 + 2
	mov al, 7
	out dx, al
	/* PIT channel 0: mode 2, count 200 (one tick per ~168 µs of virtual time). */
	mov al, 0x34
	out 0x43, al
	mov al, 200
	out 0x40, al
	mov al, 0
	out 0x40, al
	lea esi, [msg_start - _start + 0x100000]
	call puts

	/* Phase 1: sleep through 8 ticks. */
1:	sti
	hlt
	cli
	cmp dword ptr [TICKS], 8
	jb 1b
	lea esi, [msg_slept - _start + 0x100000]
	call puts

	/* Phase 2: REP STOSD and REP MOVSD of 150000 dwords each (three chunks), with interrupts on. */
	sti
	cld
	mov edi, 0x200000
	mov ecx, 150000
	mov eax, [TICKS]
	imul eax, eax, 0x01010101
	rep stosd
	mov esi, 0x200000
	mov edi, 0x400000
	mov ecx, 150000
	rep movsd
	cli
	mov eax, [0x400000 + 4 * 149999]
	call puthex
	lea esi, [msg_copied - _start + 0x100000]
	call puts

	/* Phase 3: IF = 0 for ~400 000 instructions: IRQ0 waits in the PIC, taken at the STI. */
	mov ecx, 100000
2:	add eax, ecx
	dec ecx
	jnz 2b
	sti
	nop
	cli
	call puthex
	lea esi, [msg_pending - _start + 0x100000]
	call puts

	/* Phase 4: paging (identity, 4 KiB pages, 0-8 MiB), then sum a 256 KiB window eight times. */
	mov edi, 0x80000                /* page directory */
	xor eax, eax
	mov ecx, 1024
	rep stosd
	mov dword ptr [0x80000], 0x81000 | 3
	mov dword ptr [0x80004], 0x82000 | 3
	mov edi, 0x81000                /* two page tables */
	mov eax, 3
	mov ecx, 2048
3:	stosd
	add eax, 0x1000
	dec ecx
	jnz 3b
	mov eax, 0x80000
	mov cr3, eax
	mov eax, cr0
	or eax, 0x80000000
	mov cr0, eax
	sti
	xor eax, eax
	mov edx, 8
4:	mov esi, 0x400000
5:	add eax, [esi]
	rol eax, 1
	add esi, 64
	cmp esi, 0x440000
	jb 5b
	dec edx
	jnz 4b
	cli
	call puthex
	lea esi, [msg_paged - _start + 0x100000]
	call puts

	/* Phase 5: wait until the timer has taken every input byte from the UART, then echo them. */
6:	sti
	hlt
	cli
	cmp dword ptr [RECEIVED], INPUT_BYTES
	jb 6b
	mov esi, INBUF
	call puts
	mov al, '\n'
	call putc
	mov eax, [TICKS]
	call puthex
	lea esi, [msg_ticks - _start + 0x100000]
	call puts
	mov al, 0
	out 0xf4, al
	hlt

/* IRQ0: count the tick, take one byte from the UART if one is there, EOI. */
irq0:	push eax
	push edx
	push ebx
	inc dword ptr [TICKS]
	mov dx, COM1 + 5
	in al, dx
	test al, 1
	jz 7f
	mov dx, COM1
	in al, dx
	mov ebx, [RECEIVED]
	cmp ebx, INPUT_BYTES
	jae 7f
	mov [INBUF + ebx], al
	inc dword ptr [RECEIVED]
7:	mov al, 0x20
	out 0x20, al
	pop ebx
	pop edx
	pop eax
	iret

/* putc AL; puts [ESI] up to a 0 byte; puthex EAX as 8 hex digits and a space. */
putc:	push edx
	push eax
	mov dx, COM1 + 5
8:	in al, dx
	test al, 0x20
	jz 8b
	pop eax
	mov dx, COM1
	out dx, al
	pop edx
	ret
puts:	lodsb
	test al, al
	jz 9f
	call putc
	jmp puts
9:	ret
puthex:	push ecx
	push eax
	mov ecx, 8
10:	rol eax, 4
	push eax
	and al, 15
	add al, '0'
	cmp al, '9'
	jbe 11f
	add al, 'a' - '9' - 1
11:	call putc
	pop eax
	dec ecx
	jnz 10b
	mov al, ' '
	call putc
	pop eax
	pop ecx
	ret

msg_start:	.asciz "snapshot-states\n"
msg_slept:	.asciz "slept 8 ticks\n"
msg_copied:	.asciz "copied\n"
msg_pending:	.asciz "irq waited\n"
msg_paged:	.asciz "paged sum\n"
msg_ticks:	.asciz "ticks\n"
	GDT_DATA
	IDT_WITH_GATE 0x20, irq0
