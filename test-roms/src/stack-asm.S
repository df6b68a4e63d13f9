/* stack: hand-written instruction sequences whose exact encodings matter (see stack.c for the checks). */
	.text

/* void push_pop_test(u32 *out): PUSH/POP of every operand kind, recording values and ESP deltas.
 * out[0]  ESP delta of push imm8 (-4)       out[1] value pushed by push $-2 (sign-extended)
 * out[2]  value pushed by push $0x12345678   out[3] value pushed by push mem
 * out[4]  value pushed by push %esp - ESP before the push (0: the old ESP is pushed)
 * out[5]  ESP after pop %esp (the popped value)
 * out[6]  ESP delta of pushw $imm16 (-2)     out[7] 16-bit value pushed by pushw $0xbeef
 * out[8]  value popped into memory by pop mem
 * out[9]  popl (%esp): the word stored, address computed after the increment
 * out[10] ESP delta of pushw %ax / popw %cx round trip (0), out[11] CX after popw (upper half kept) */
	.globl push_pop_test
push_pop_test:
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl 20(%esp), %edi
	movl %esp, %esi
	pushl $-2
	movl %esi, %eax
	subl %esp, %eax
	negl %eax
	movl %eax, 0(%edi)
	popl %eax
	movl %eax, 4(%edi)
	pushl $0x12345678
	popl 8(%edi)
	movl $0xcafef00d, 48(%edi)
	pushl 48(%edi)
	popl %eax
	movl %eax, 12(%edi)
	movl %esp, %ebx
	pushl %esp
	popl %eax
	subl %ebx, %eax
	movl %eax, 16(%edi)
	/* pop %esp: push a value that is ESP-8, then pop it into ESP */
	leal -8(%esp), %eax
	pushl %eax
	popl %esp
	movl %esp, %eax
	subl %esi, %eax
	movl %eax, 20(%edi)             /* ESP now relative to the entry ESP: -8 */
	movl %esi, %esp
	movl %esp, %ebx
	pushw $0xbeef
	movl %esp, %eax
	subl %ebx, %eax
	movl %eax, 24(%edi)
	movzwl (%esp), %eax
	movl %eax, 28(%edi)
	addl $2, %esp
	pushl $0x600d600d
	popl 32(%edi)
	/* popl (%esp): pops A, then stores it at the new top of stack */
	pushl $0x22222222
	pushl $0x11111111
	popl (%esp)
	popl %eax
	movl %eax, 36(%edi)
	movl %esp, %ebx
	movl $0x1234abcd, %eax
	movl $0x99998888, %ecx
	pushw %ax
	popw %cx
	movl %esp, %eax
	subl %ebx, %eax
	movl %eax, 40(%edi)
	movl %ecx, 44(%edi)
	movl %esi, %esp
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

/* void pusha_test(u32 *out): out[0..7] = the 8 words PUSHA stored (EDI first), out[8] = ESP delta,
 * out[9..16] = EAX,ECX,EDX,EBX,ESP-before,EBP,ESI,EDI after POPA from a crafted image (ESP word skipped). */
	.globl pusha_test
pusha_test:
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl 20(%esp), %eax
	movl %eax, saved_out
	movl %esp, saved_esp
	movl $0xa0a0a0a0, %eax
	movl $0xc1c1c1c1, %ecx
	movl $0xd2d2d2d2, %edx
	movl $0xb3b3b3b3, %ebx
	movl $0xb5b5b5b5, %ebp
	movl $0x5e5e5e5e, %esi
	movl $0xd7d7d7d7, %edi
	pushal
	movl saved_out, %eax
	movl $8, %ecx
1:	popl %edx                       /* copy the 8 words out */
	movl %edx, (%eax)
	addl $4, %eax
	loop 1b
	movl saved_esp, %edx
	subl %esp, %edx
	movl %edx, (%eax)               /* 0: balanced */
	/* crafted POPA image, pushed in PUSHA order: EAX ECX EDX EBX (ignored ESP) EBP ESI EDI */
	pushl $0x10000001
	pushl $0x10000002
	pushl $0x10000003
	pushl $0x10000004
	pushl $0xffffffff
	pushl $0x10000006
	pushl $0x10000007
	pushl $0x10000008
	popal
	movl %ebx, saved_ebx
	movl saved_out, %ebx
	movl %eax, 36(%ebx)
	movl %ecx, 40(%ebx)
	movl %edx, 44(%ebx)
	movl %ebp, 56(%ebx)
	movl %esi, 60(%ebx)
	movl %edi, 64(%ebx)
	movl saved_ebx, %eax
	movl %eax, 48(%ebx)
	movl saved_esp, %eax
	subl %esp, %eax
	movl %eax, 52(%ebx)             /* ESP after POPA == ESP before the 8 pushes: 0 */
	movl saved_esp, %esp
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

/* u32 stdcall_sum(u32 a, u32 b): callee pops its arguments with RET imm16 */
	.globl stdcall_sum
stdcall_sum:
	movl 4(%esp), %eax
	addl 8(%esp), %eax
	ret $8

/* u32 call_stdcall(u32 *esp_delta): calls stdcall_sum(40, 2) and reports the ESP change (0) */
	.globl call_stdcall
call_stdcall:
	pushl %ebx
	movl %esp, %ebx
	pushl $2
	pushl $40
	call stdcall_sum
	subl %esp, %ebx
	movl 8(%esp), %ecx
	movl %ebx, (%ecx)
	popl %ebx
	ret

/* void enter_test(u32 level, u32 stack_top, u32 ebp_in, u32 *out)
 * Runs ENTER size,level on a private stack; out = {ESP, EBP after ENTER, ESP, EBP after LEAVE}. */
	.globl enter_test
enter_test:
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl 20(%esp), %eax
	movl 24(%esp), %ecx
	movl 28(%esp), %edx
	movl 32(%esp), %edi
	movl %esp, saved_esp
	movl %ecx, %esp
	movl %edx, %ebp
	cmpl $0, %eax
	je 0f
	cmpl $1, %eax
	je 1f
	enter $12, $3
	jmp 9f
0:	enter $16, $0
	jmp 9f
1:	enter $8, $1
9:	movl %esp, 0(%edi)
	movl %ebp, 4(%edi)
	leave
	movl %esp, 8(%edi)
	movl %ebp, 12(%edi)
	movl saved_esp, %esp
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

/* u32 fib(u32 n): naive recursion, counts calls in fib_calls */
	.globl fib
fib:
	incl fib_calls
	movl 4(%esp), %eax
	cmpl $2, %eax
	jb 1f
	pushl %ebx
	leal -1(%eax), %ebx
	pushl %ebx
	call fib
	addl $4, %esp
	decl %ebx
	pushl %eax
	pushl %ebx
	call fib
	addl $4, %esp
	popl %edx
	addl %edx, %eax
	popl %ebx
1:	ret

/* Indirect transfers: table of handlers; each returns its index * 11 */
op0:	movl $0, %eax
	ret
op1:	movl $11, %eax
	ret
op2:	movl $22, %eax
	ret
op3:	movl $33, %eax
	ret
	.section .rodata
	.align 4
op_table:
	.long op0, op1, op2, op3
	.text
/* u32 call_table(u32 i): call *op_table(,%eax,4) */
	.globl call_table
call_table:
	movl 4(%esp), %eax
	call *op_table(, %eax, 4)
	ret
/* u32 call_reg(u32 i): call *%ecx */
	.globl call_reg
call_reg:
	movl 4(%esp), %eax
	movl op_table(, %eax, 4), %ecx
	call *%ecx
	ret
/* u32 jmp_table(u32 i): jmp *op_table(,%eax,4) — a switch; the handler's RET returns to our caller */
	.globl jmp_table
jmp_table:
	movl 4(%esp), %eax
	jmp *op_table(, %eax, 4)

/* Far call / far return through the GDT's flat code selector 0x08.
 * void far_test(u32 *out): out[0] = CS pushed, out[1] = return EIP pushed == label, out[2] = expected label,
 * out[3] = ESP delta after lcall+lret (0), out[4] = result of indirect lcall (m16:32), out[5] = ESP delta
 * after lret $8 with 2 arguments (0 after the caller's own pops are not needed) */
	.globl far_test
far_test:
	pushl %ebx
	pushl %edi
	movl 12(%esp), %edi
	movl %esp, %ebx
	lcall $0x08, $far_target
far_ret_here:
	movl $far_ret_here, 8(%edi)
	movl %ebx, %eax
	subl %esp, %eax
	movl %eax, 12(%edi)
	movl $far_target2, far_ptr
	movw $0x08, far_ptr + 4
	lcall *far_ptr
	movl %eax, 16(%edi)
	pushl $5
	pushl $7
	lcall $0x08, $far_target3
	movl %ebx, %ecx
	subl %esp, %ecx
	movl %ecx, 20(%edi)
	movl %eax, 24(%edi)
	popl %edi
	popl %ebx
	ret
far_target:
	movzwl 4(%esp), %eax
	movl %eax, 0(%edi)
	movl (%esp), %eax
	movl %eax, 4(%edi)
	lret
far_target2:
	movl $0x7a7a7a7a, %eax
	lret
far_target3:                            /* pascal-style: callee pops 8 bytes of arguments */
	movl 8(%esp), %eax
	imull 12(%esp), %eax
	lret $8

/* u32 sreg_push_test(void): push %ds / pop %es round trip; returns ES, ESP delta in the high half */
	.globl sreg_push_test
sreg_push_test:
	movl %esp, %ecx
	pushl %ds
	popl %es
	subl %esp, %ecx
	xorl %eax, %eax
	movw %es, %ax
	shll $16, %ecx
	orl %ecx, %eax
	ret

	.bss
	.align 4
saved_esp: .long 0
saved_out: .long 0
saved_ebx: .long 0
far_ptr: .long 0, 0
	.globl fib_calls
fib_calls: .long 0
