/* Multiboot v1 header and entry stub shared by all test ROMs. */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000002           /* bit 1: please provide mem_lower/mem_upper */

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.globl _start
_start:
	cli
	cld
	/* Multiboot guarantees no usable GDT or stack: install ours before touching memory via SS. */
	movl %eax, %edx                 /* keep the magic (EBX holds the info pointer) */
	lgdt gdt_descriptor
	ljmp $0x08, $1f
1:	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movl $rt_stack_top, %esp
	xorl %ebp, %ebp
	pushl $0                        /* EFLAGS = 0x2: IF, DF, AC, ... all clear */
	popfl
	/* Zero .bss (the loader should, but the ROM must not depend on it); the stack lives there too. */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb
	movl %edx, rt_mb_magic
	movl %ebx, rt_mb_info
	call rt_init
	call test_main
	pushl $0x7e                     /* test_main must end through rt_finish/rt_exit */
	call rt_exit

	.data
	.align 8
	.globl rt_gdt
rt_gdt:
	.quad 0                         /* 0x00 null */
	.quad 0x00cf9a000000ffff        /* 0x08 code: base 0, limit 4 GiB, 32-bit, DPL0, execute/read */
	.quad 0x00cf92000000ffff        /* 0x10 data: base 0, limit 4 GiB, 32-bit, DPL0, read/write */
	.fill 29, 8, 0                  /* 0x18..0xf8: free slots for tests (gdt_set) */
	.globl gdt_descriptor
	.align 4
	.word 0
gdt_descriptor:
	.word 32 * 8 - 1
	.long rt_gdt

	.bss
	.align 16
	.globl rt_stack_bottom
rt_stack_bottom:
	.space 16384
	.globl rt_stack_top
rt_stack_top:
