/* codedata: hot loops whose data lives in the same 4 KiB page as their code. The section is one page of
 * its own; .org fixes where code and data sit, so that no data byte shares a 64-byte chunk with an
 * instruction, and the counters touch the code on both sides (0x1ff | 0x200 and 0x27f | 0x280). */
	.section .text.codedata, "ax"
	.p2align 12
cd_page:

/* u32 cd_sieve(u32 limit): primes below limit (at most CD_SIEVE_MAX), sieving cd_composite */
	.globl cd_sieve
cd_sieve:
	pushl %ebx
	pushl %edi
	movl 12(%esp), %edx             /* limit */
	movl $cd_composite, %edi
	movl %edx, %ecx
	xorl %eax, %eax
	cld
	rep stosb                       /* composite[0..limit) = 0 */
	movl $2, %ebx                   /* i */
1:	movl %ebx, %eax
	imull %ebx, %eax                /* j = i * i */
	cmpl %edx, %eax
	jae 4f
	cmpb $0, cd_composite(%ebx)
	jne 3f
2:	movb $1, cd_composite(%eax)     /* the hot byte store */
	addl %ebx, %eax
	cmpl %edx, %eax
	jb 2b
3:	incl %ebx
	jmp 1b
4:	xorl %eax, %eax                 /* count the zero bytes from 2 */
	movl $2, %ebx
5:	cmpl %edx, %ebx
	jae 6f
	cmpb $1, cd_composite(%ebx)     /* CF = 1 for a zero byte (a prime) */
	adcl $0, %eax
	incl %ebx
	jmp 5b
6:	popl %edi
	popl %ebx
	ret

/* u32 counters; the last one ends at 0x1ff, right before cd_tally's first byte */
	.org 0x1c0
	.globl cd_count32
cd_count32:
	.skip 64

/* void cd_tally(u32 n, u32 seed): n steps of x = x * 1103515245 + 12345, counting the top four bits of
 * each x in cd_count32 (dword stores), bits 24-27 in cd_count16 (word stores), bits 16-20 in cd_count8 */
	.org 0x200
	.globl cd_tally, cd_tally_code
cd_tally:
cd_tally_code:
	movl 4(%esp), %ecx
	movl 8(%esp), %eax
1:	imull $1103515245, %eax, %eax
	addl $12345, %eax
	movl %eax, %edx
	shrl $28, %edx
	incl cd_count32(,%edx,4)
	movl %eax, %edx
	shrl $24, %edx
	andl $15, %edx
	incw cd_count16(,%edx,2)
	movl %eax, %edx
	shrl $16, %edx
	andl $31, %edx
	incb cd_count8(%edx)
	decl %ecx
	jnz 1b
	jmp cd_tally_ret
	/* never executed: the RET below is the last code byte before the counters */
	.org 0x27f
	.globl cd_tally_ret
cd_tally_ret:
	ret

	.globl cd_count16, cd_count8
cd_count16:                             /* 0x280 */
	.skip 32
cd_count8:                              /* 0x2a0 */
	.skip 32

	.org 0x300
	.globl cd_composite
cd_composite:                           /* CD_SIEVE_MAX = 0x1000 - 0x300 bytes, to the end of the page */
	.org 0x1000
