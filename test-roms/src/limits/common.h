/* Shared by the limit ROMs: raw flat binaries linked at 0x100000 and run as
 *   x86jit run ROM --load 0x100000 --entry 0x100000
 * (flat 32-bit protected mode, CS=0x08, no GDT loaded, interrupts off). */
	.intel_syntax noprefix
	.code32
	.text
	.globl _start

/* Load a flat GDT (code 0x08, data 0x10) and a stack, so interrupts and exceptions can be delivered. */
.macro FLAT_GDT
	lgdt [gdtr]
	ljmp 0x08, offset 1f
1:	mov ax, 0x10
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov esp, 0x90000
.endm

/* The GDT FLAT_GDT loads. */
.macro GDT_DATA
	.balign 8
gdt:	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: code, base 0, 4 GiB, 32-bit */
	.quad 0x00cf92000000ffff	/* 0x10: data, base 0, 4 GiB */
gdtr:	.word 23
	.long gdt
.endm

/* An interrupt gate to `handler` (selector 0x08, DPL 0), 8 bytes. The address is computed from the
 * load address (0x100000; _start comes first) since the assembler cannot split a relocated one. */
.macro GATE handler
	.word (\handler - _start + 0x100000) & 0xffff
	.word 0x08
	.byte 0, 0x8e
	.word (\handler - _start + 0x100000) >> 16
.endm

/* IDTR and an IDT of `vector` absent gates followed by a gate for `vector` to `handler`. */
.macro IDT_WITH_GATE vector, handler
idtr:	.word (\vector + 1) * 8 - 1
	.long idt
	.balign 8
idt:	.fill \vector, 8, 0
	GATE \handler
.endm
