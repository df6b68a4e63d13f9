/* segments: code that runs in other code segments (16-bit, conforming). Offsets are relative to the
 * segment bases that segments.c puts in the GDT (the base is the start label). */
	.text
	.code16
	.globl code16_start, code16_fn_off
/* Entered by ljmp $SEL_CODE16, $0 from 32-bit code; leaves with a 32-bit far jump back. */
code16_start:
	movw $0x1234, %ax               /* B8 iw: 16-bit default operand size */
	movl $0x89abcdef, %ecx          /* 66 B9 id: operand-size prefix */
	addw %ax, %cx                   /* ECX = 0x89abe023 */
	movw $0xfff0, %bx
	movw $0x7020, %si
	movw %cx, (%bx,%si)             /* 16-bit address wraps: 0xfff0 + 0x7020 = 0x7010 */
	movl $0x7000, %ebp
	addr32 movl %ecx, 0x20(%ebp)    /* 67 prefix: 32-bit addressing (SS base 0) */
	pushw $0x89ab                   /* 16-bit pushes: ESP -= 2 each (the stack segment is 32-bit) */
	pushw %ax
	popl %edx                       /* 66 prefix: pops both words at once: 0x89ab1234 */
	pushw %ax                       /* net ESP change of the 16-bit code: -2 */
	movl %edx, %edi
	movl %esp, %esi
	ljmpl $0x08, $code16_back       /* 66 EA id iw */

code16_fn:                          /* far-called from 32-bit code: returns with a 32-bit far return */
	movw $0x4242, %ax
	lretl
code16_fn_off:
	.code32
	.long code16_fn - code16_start

/* void code16_test(u32 *out): out = {ECX, EDX, EDI, ESP delta from before the jump} */
	.globl code16_test
code16_test:
	pushl %ebx
	pushl %esi
	pushl %edi
	pushl %ebp
	movl 20(%esp), %eax
	movl %eax, c16_out
	movl %esp, c16_esp
	ljmp $0x38, $0
code16_back:
	movl c16_out, %eax
	movl %ecx, 0(%eax)
	movl %edi, 4(%eax)
	movl c16_esp, %edx
	subl %esi, %edx
	movl %edx, 8(%eax)
	movl c16_esp, %esp
	popl %ebp
	popl %edi
	popl %esi
	popl %ebx
	ret

/* Conforming code segment body (base = conf_start): returns CS in EAX and its own EIP in EDX */
	.globl conf_start, conf_eip_off
conf_start:
	xorl %eax, %eax
	movw %cs, %ax
	call 1f
1:	popl %edx
	lret
conf_eip_off:
	.long 1b - conf_start

	.bss
c16_out: .long 0
c16_esp: .long 0
