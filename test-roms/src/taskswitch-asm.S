/* The tasks of taskswitch.c. Each records the state the task switch loaded (its registers, EFLAGS, CR0,
 * TR, LDTR and segment selectors) into a `struct seen` at its first instruction, then returns to the main
 * task: by JMP (task A, task E), or by IRET with NT (B, C, F, the #DF task). A task entered again resumes
 * after that instruction, so each body loops. */
	.text

/* struct seen: regs[8] at 0, eflags 32, cr0 36, tr 40, cs 42, ss 44, ds 46, es 48, fs 50, gs 52, ldtr 54 */
	.macro record s
	movl %eax, \s+0
	movl %ecx, \s+4
	movl %edx, \s+8
	movl %ebx, \s+12
	movl %esp, \s+16
	movl %ebp, \s+20
	movl %esi, \s+24
	movl %edi, \s+28
	pushfl
	popl \s+32
	pushl %eax
	movl %cr0, %eax
	movl %eax, \s+36
	popl %eax
	str \s+40
	movw %cs, \s+42
	movw %ss, \s+44
	movw %ds, \s+46
	movw %es, \s+48
	movw %fs, \s+50
	movw %gs, \s+52
	sldt \s+54
	.endm

	.globl task_a
task_a:	record seen_a
	ljmp $0x28, $0
	jmp task_a

	.globl task_b
task_b:	record seen_b
	iretl
	jmp task_b

	.globl task_c
task_c:	record seen_c
	iretl
	jmp task_c

/* The #DF task: the error code is on its stack; df_fixup (C) points the interrupted task at its resume label. */
	.globl task_df
task_df:
	record seen_df
	popl df_error
	movl %esp, df_esp_after
	call df_fixup
	iretl
	jmp task_df

/* Task E never runs: its DS selector is beyond the GDT (#TS in its context); the #TS handler resumes here. */
	.globl task_e, task_e_return
task_e:	nop
task_e_return:
	ljmp $0x28, $0
	jmp task_e_return

/* Task F runs from a 16-bit TSS in a code segment whose base is task_f (IP 0); its data accesses go
 * through the flat DS. */
	.globl task_f, task_f_after_iret, task_f_end
task_f:	record seen_f
	iretl
task_f_after_iret:
	jmp task_f
task_f_end:

/* Task G runs with an LDT: its ES is LDT selector 0x04. */
	.globl task_g
task_g:	record seen_g
	movl %es:0, %eax   /* a read through the LDT's data segment */
	movl %eax, g_read
	ljmp $0x28, $0
	jmp task_g

/* Task H runs on its own page directory (CR3 from its TSS): it reads linear 0x400000. */
	.globl task_h
task_h:	record seen_h
	movl 0x400000, %eax
	movl %eax, h_read
	ljmp $0x28, $0
	jmp task_h
