/* smc-adjacent: code rewritten one byte away from data that is written on every iteration. The section
 * is one page of its own; .org fixes the layout (64-byte chunks are what x86jit tracks code by):
 *   0x1c0-0x1ff sa_data_a (hot: its last dword)   | 0x200 sa_fn_a: INC or DEC EAX; RET
 *   0x27e sa_fn_b: JMP rel8 to sa_ret1 or sa_ret2 | 0x280 sa_data_b (hot)
 *   0x2c0 sa_data_c (hot) and 0x2c4 sa_fn_c: MOV EAX, imm32; RET, in one chunk
 * Each loop restores its code first, so that every round starts alike. */
	.section .text.smcadj, "ax"
	.p2align 12
sa_page:

/* u32 sa_loop_a(u32 n): for i = n..1: store i into the dword right before sa_fn_a, add sa_fn_a(i) (INC or
 * DEC); after the call with i = n/2, rewrite sa_fn_a's INC (its first byte, next to the data) into DEC */
	.globl sa_loop_a
sa_loop_a:
	pushl %ebx
	pushl %esi
	movl 12(%esp), %ecx
	movl %ecx, %ebx
	shrl $1, %ebx
	xorl %esi, %esi
	movb $0x40, sa_fn_a             /* INC EAX */
1:	movl %ecx, sa_data_a + 60
	movl %ecx, %eax
	call sa_fn_a
	addl %eax, %esi
	cmpl %ebx, %ecx
	jne 2f
	movb $0x48, sa_fn_a             /* DEC EAX */
2:	decl %ecx
	jnz 1b
	movl %esi, %eax
	popl %esi
	popl %ebx
	ret

/* u32 sa_loop_b(u32 n): for i = n..1: store i into sa_data_b (right after sa_fn_b's last byte), add
 * sa_fn_b() (1 or 2); after the call with i = n/2, retarget the JMP (its displacement byte) to sa_ret2 */
	.globl sa_loop_b
sa_loop_b:
	pushl %ebx
	pushl %esi
	movl 12(%esp), %ecx
	movl %ecx, %ebx
	shrl $1, %ebx
	xorl %esi, %esi
	movb $0xe0, sa_fn_b + 1         /* to sa_ret1 (0x260 - 0x280) */
1:	movl %ecx, sa_data_b
	call sa_fn_b
	addl %eax, %esi
	cmpl %ebx, %ecx
	jne 2f
	movb $0xf0, sa_fn_b + 1         /* to sa_ret2 (0x270 - 0x280) */
2:	decl %ecx
	jnz 1b
	movl %esi, %eax
	popl %esi
	popl %ebx
	ret

/* u32 sa_loop_c(u32 n): for i = n..1: store i into sa_data_c (sa_fn_c's chunk), add sa_fn_c(); after the
 * call with i = n/2, rewrite sa_fn_c's immediate 0x100 into 0x200 */
	.globl sa_loop_c
sa_loop_c:
	pushl %ebx
	pushl %esi
	movl 12(%esp), %ecx
	movl %ecx, %ebx
	shrl $1, %ebx
	xorl %esi, %esi
	movl $0x100, sa_fn_c + 1
1:	movl %ecx, sa_data_c
	call sa_fn_c
	addl %eax, %esi
	cmpl %ebx, %ecx
	jne 2f
	movl $0x200, sa_fn_c + 1
2:	decl %ecx
	jnz 1b
	movl %esi, %eax
	popl %esi
	popl %ebx
	ret

/* u32 sa_loop_d(u32 n): for i = n..1: one word store at 0x1ff writes i's low byte (data) and INC (even i)
 * or DEC (odd i) over sa_fn_a's first byte (code); add sa_fn_a(i) */
	.globl sa_loop_d
sa_loop_d:
	pushl %esi
	movl 8(%esp), %ecx
	xorl %esi, %esi
1:	movl %ecx, %eax
	andl $1, %eax
	shll $11, %eax                  /* odd: 0x0800, making 0x48 */
	orl $0x4000, %eax
	movb %cl, %al
	movw %ax, sa_data_a + 63
	movl %ecx, %eax
	call sa_fn_a
	addl %eax, %esi
	decl %ecx
	jnz 1b
	movl %esi, %eax
	popl %esi
	ret

/* u32 sa_loop_e(u32 n): for i = n..1: one dword store at 0x27d writes the padding byte, the JMP opcode,
 * its displacement (sa_ret1 for even i, sa_ret2 for odd) and i's low byte into sa_data_b; add sa_fn_b() */
	.globl sa_loop_e
sa_loop_e:
	pushl %esi
	movl 8(%esp), %ecx
	xorl %esi, %esi
1:	movl $0x00e0eb90, %eax
	testb $1, %cl
	jz 2f
	movl $0x00f0eb90, %eax
2:	movl %ecx, %edx
	shll $24, %edx
	orl %edx, %eax
	movl %eax, sa_fn_b - 1
	call sa_fn_b
	addl %eax, %esi
	decl %ecx
	jnz 1b
	movl %esi, %eax
	popl %esi
	ret

/* u32 sa_call_a(u32 x): sa_fn_a(x) */
	.globl sa_call_a
sa_call_a:
	movl 4(%esp), %eax
	call sa_fn_a
	ret

/* void sa_stosb(void *dst, u32 byte, u32 n), sa_movsb(void *dst, const void *src, u32 n): REP STOSB/MOVSB */
	.globl sa_stosb, sa_movsb
sa_stosb:
	pushl %edi
	movl 8(%esp), %edi
	movl 12(%esp), %eax
	movl 16(%esp), %ecx
	cld
	rep stosb
	popl %edi
	ret
sa_movsb:
	pushl %esi
	pushl %edi
	movl 12(%esp), %edi
	movl 16(%esp), %esi
	movl 20(%esp), %ecx
	cld
	rep movsb
	popl %edi
	popl %esi
	ret

	.org 0x1c0
	.globl sa_data_a
sa_data_a:
	.skip 64

	.org 0x200
	.globl sa_fn_a
sa_fn_a:
	incl %eax
	ret

	.org 0x260
sa_ret1:
	movl $1, %eax
	ret
	.org 0x270
sa_ret2:
	movl $2, %eax
	ret
	.org 0x27d
	.byte 0x90                      /* padding, never executed */
	.globl sa_fn_b
sa_fn_b:
	.byte 0xeb, 0xe0                /* JMP sa_ret1 */
	.globl sa_data_b
sa_data_b:                              /* 0x280 */
	.long 0

	.org 0x2c0
	.globl sa_data_c, sa_fn_c
sa_data_c:
	.long 0
sa_fn_c:
	movl $0x100, %eax
	ret
	.org 0x1000
