/* One entry stub per IDT vector; all funnel into rt_exception(struct frame *). */
	.text
	.altmacro
	.macro stub n
	.align 16
isr_\n:
	/* Vectors with a CPU-pushed error code: 8, 10-14, 17, 21, 29, 30 */
	.if (\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
	.else
	pushl $0
	.endif
	pushl $\n
	jmp isr_common
	.endm

	.set i, 0
	.rept 256
	stub %i
	.set i, i + 1
	.endr

isr_common:
	pushal
	pushl %ds
	pushl %es
	pushl %fs
	pushl %gs
	movw $0x10, %ax                 /* the faulting code may run with odd data segments */
	movw %ax, %ds
	movw %ax, %es
	cld
	pushl %esp
	call rt_exception
	addl $4, %esp
	popl %gs
	popl %fs
	popl %es
	popl %ds
	popal
	addl $8, %esp                   /* vector and error code */
	iretl

	.macro addr n
	.long isr_\n
	.endm
	.data
	.align 4
	.globl rt_isr_stubs
rt_isr_stubs:
	.set i, 0
	.rept 256
	addr %i
	.set i, i + 1
	.endr
