/* selfmod: code that is executed, then rewritten, then executed again. */
	.text

/* u32 hot_loop(u32 n): n iterations adding the immediate of the MOV at hot_imm (patched by C) */
	.globl hot_loop, hot_imm
hot_loop:
	movl 4(%esp), %ecx
	xorl %edx, %edx
1:
hot_imm:
	movl $0x11, %eax                /* B8 imm32: the immediate is at hot_imm+1 */
	addl %eax, %edx
	loop 1b
	movl %edx, %eax
	ret

/* u32 patch_in_loop(u32 n): the loop rewrites its own MOV immediate (1 -> 3) when ECX == n/2 */
	.globl patch_in_loop
patch_in_loop:
	pushl %ebx
	movl 8(%esp), %ecx
	movl %ecx, %ebx
	shrl $1, %ebx
	xorl %edx, %edx
	movl $1, pil_insn+1             /* restore the original immediate */
1:
pil_insn:
	movl $1, %eax
	addl %eax, %edx
	cmpl %ebx, %ecx
	jne 2f
	movl $3, pil_insn+1
2:	loop 1b
	movl %edx, %eax
	popl %ebx
	ret

/* u32 patch_next(u32 v): stores v into the immediate of the very next instruction (same block) */
	.globl patch_next
patch_next:
	movl 4(%esp), %edx
	movl %edx, pn_insn+1
pn_insn:
	movl $0, %eax
	ret

/* u32 op_patch(u32 x): x + 5, until C rewrites the ModRM byte to make it x - 5 */
	.globl op_patch, op_site
op_patch:
	movl 4(%esp), %eax
op_site:
	addl $5, %eax                   /* 83 C0 05 */
	ret

/* u32 jmp_patch(void): returns 0xA or 0xB depending on where the JMP at jmp_site points */
	.globl jmp_patch, jmp_site, jmp_target_a, jmp_target_b
jmp_patch:
	xorl %eax, %eax
jmp_site:
	.byte 0xe9                      /* JMP rel32 to jmp_target_a */
	.long jmp_target_a - (jmp_site + 5)
	.byte 0x90
jmp_target_a:
	movl $0xa, %eax
	ret
jmp_target_b:
	movl $0xb, %eax
	ret
