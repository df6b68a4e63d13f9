/* The virtual-8086 side of v86.c: 16-bit programs copied to linear V86_BASE (segment V86_SEG, offsets
 * from v86_blob) and the ring-0 glue that enters and leaves them. Every program ends with INT3, which is
 * not IOPL-sensitive: v86.c's #BP handler sends the CPU to v86_exit, which returns from enter_v86. */
	.text

/* void enter_v86(const struct v86ctx *c): IRET to virtual-8086 mode with the frame c holds
 * (eip cs eflags esp ss es ds fs gs, dwords); returns when a program reaches its INT3. */
	.globl enter_v86, v86_exit
enter_v86:
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl %esp, v86_saved_esp
	movl 20(%esp), %eax
	pushl 32(%eax)   /* gs */
	pushl 28(%eax)   /* fs */
	pushl 24(%eax)   /* ds */
	pushl 20(%eax)   /* es */
	pushl 16(%eax)   /* ss */
	pushl 12(%eax)   /* esp */
	pushl 8(%eax)    /* eflags */
	pushl 4(%eax)    /* cs */
	pushl 0(%eax)    /* eip */
	iretl
v86_exit:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl v86_saved_esp, %esp
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

/* INT 0x33 from the virtual-8086 task (a DPL-3 interrupt gate, ring 0 of that task): IRET with NT set
 * returns to the task that called it (its TSS's back link). */
	.globl v86_task_return
v86_task_return:
	pushfl
	orl $0x4000, (%esp)
	popfl
	iretl

/* Task H: reached through the task gate of INT 0x32. It counts its runs and IRETs through NT back to
 * the virtual-8086 task. */
	.globl task_h
task_h:
	incl h_runs
	iretl
	jmp task_h

	.data
	.align 4
v86_saved_esp: .long 0
	.globl h_runs
h_runs: .long 0

/* ---- the 16-bit programs: DS = SS = V86_SEG on entry; results at r_* ---- */
	.section .rodata
	.code16
	.globl v86_blob, v86_blob_end, prog_basic, prog_sens, prog_exc, prog_task
	.globl r_cs, r_ss, r_flags, r_alias, r_eax32, r_addr32, r_push16, r_push32, r_iopl, r_vm_kept, r_task
	.globl r_task_cs, r_task_flags, r_task_resumed, r_wrap
	.set OFF, v86_blob
v86_blob:

prog_basic:
	movw %cs, %ax
	movw %ax, r_cs - OFF
	movw %ss, %ax
	movw %ax, r_ss - OFF
	pushfw
	popw %ax
	movw %ax, r_flags - OFF
	/* Segment arithmetic: 0x2100:0x0010 and 0x2101:0x0000 are the same linear byte. */
	movw $0x2100, %ax
	movw %ax, %es
	movw $0xbeef, %es:0x10
	movw $0x2101, %ax
	movw %ax, %fs
	movw %fs:0, %ax
	movw %ax, r_alias - OFF
	/* 0xFFFF:0x0010 is linear 0x100000: no A20 wrap in virtual-8086 mode (paging is off). */
	movw $0xffff, %ax
	movw %ax, %gs
	movw %gs:0x0010, %ax
	movw %ax, r_wrap - OFF
	/* 66: a 32-bit operation in 16-bit code. */
	movl $0x12345678, %eax
	addl $0x11111111, %eax
	movl %eax, r_eax32 - OFF
	/* 67: 32-bit addressing (ESI within the 64 KiB limit). */
	movl $(r_addr32 - OFF), %esi
	addr32 movw $0x5a5a, (%esi)
	/* The stack is 16-bit: PUSH moves SP by 2, PUSH with 66 by 4. */
	movw %sp, %bx
	pushw %ax
	movw %sp, %cx
	popw %ax
	subw %cx, %bx
	movw %bx, r_push16 - OFF
	movw %sp, %bx
	pushl %eax
	movw %sp, %cx
	popl %eax
	subw %cx, %bx
	movw %bx, r_push32 - OFF
	/* POPF at IOPL 3 cannot change IOPL; POPFD cannot clear VM (PUSHFD's image has VM clear already). */
	pushfw
	popw %ax
	andw $0xcfff, %ax
	pushw %ax
	popfw
	pushfw
	popw %ax
	movw %ax, r_iopl - OFF
	pushfl
	popfl
	pushfl
	popl %eax
	movl %eax, r_vm_kept - OFF
	int3

/* The IOPL-sensitive instructions, each once (v86.c runs this at IOPL 0 and at IOPL 3). */
prog_sens:
	cli
	sti
	pushfw
	popfw
	int $0x30
	pushfw
	pushw %cs
	pushw $(1f - OFF)
	iret
	nop
1:	int3

/* Exceptions and the I/O bitmap (run at IOPL 0 and IOPL 3). */
prog_exc:
	hlt
	ud2
	xorb %bl, %bl
	movw $1, %ax
	divb %bl
	movb $0x7f, %al
	addb $1, %al
	into
	movw $5, %ax
	bound %ax, bound_pair - OFF
	inb $0x80, %al
	outb %al, $0x80
	outb %al, $0x81
	movw $0x81, %dx
	inb %dx, %al
	inw $0x80, %ax
	movw $0x7e, %dx
	outw %ax, %dx
	int3

/* The virtual-8086 task (a TSS with VM set, entered by CALL): INT 0x32 goes to task H through a task
 * gate and comes back by its IRET; INT 0x33 returns to the caller. */
prog_task:
	movw %cs, %ax
	movw %ax, r_task_cs - OFF
	pushfw
	popw %ax
	movw %ax, r_task_flags - OFF
	int $0x32
	incw r_task_resumed - OFF
	int $0x33
	jmp prog_task

	.align 2
bound_pair: .word 0, 4
r_cs: .word 0
r_ss: .word 0
r_flags: .word 0
r_alias: .word 0
r_wrap: .word 0
r_eax32: .long 0
r_addr32: .word 0
r_push16: .word 0
r_push32: .word 0
r_iopl: .word 0
r_vm_kept: .long 0
r_task: .word 0
r_task_cs: .word 0
r_task_flags: .word 0
r_task_resumed: .word 0
v86_blob_end:
	.code32
