/* bios-realmode: a 64 KiB BIOS-style image. The CPU starts at the reset vector (F000:FFF0, the last 16
 * bytes), then in real mode: UART setup and output, segment:offset arithmetic, an INT 0x80 handler and a
 * #DE handler installed in the IVT; then a GDT, CR0.PE and a far jump into 32-bit protected mode, more
 * checks and output there, exit through the debug-exit port 0xF4.
 * Linked at offset 0 of segment F000: real-mode offsets are image offsets, linear = 0xF0000 + offset
 * (QEMU maps the image at 0xF0000 and at 0xFFFF0000). */
#define LIN(x) ((x) + 0xf0000)
#define COM1 0x3f8
#define PASSED 0x500                    /* counters in low RAM (DS = 0) */
#define FAILED 0x504
#define DE_IP  0x508
#define DE_RESUME 0x50c
#define DE_COUNT 0x510

	.code16
	.text
	.globl _start
_start:
reset_entry:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw $0x7000, %sp
	movl $0, PASSED
	movl $0, FAILED
	movl $0, DE_COUNT
	call uart_init16
	movw $msg_hello, %si
	call puts16

	/* segment arithmetic: 1000:0010 and 1001:0000 are the same byte */
	movw $0x1000, %ax
	movw %ax, %es
	movb $0x5a, %es:0x10
	movw $0x1001, %ax
	movw %ax, %fs
	movzbw %fs:0, %ax
	movw $0x5a, %bx
	movw $msg_segarith, %si
	call check16
	xorw %ax, %ax
	movw %ax, %es

	/* INT 0x80 through the IVT: handler adds 1 to AX and sets BX */
	movw $int80_handler, 0x80*4
	movw $0xf000, 0x80*4+2
	movw %sp, %di
	movw $0x1234, %ax
	xorw %bx, %bx
	int $0x80
	pushw %bx
	movw $0x1235, %bx
	movw $msg_int80, %si
	call check16
	popw %ax
	movw $0xbeef, %bx
	movw $msg_int80_bx, %si
	call check16
	movw %sp, %ax
	movw %di, %bx
	movw $msg_int80_sp, %si
	call check16

	/* #DE in real mode: the IVT vector 0 handler sees IP of the DIV and skips it */
	movw $de_handler, 0
	movw $0xf000, 2
	movw $de_resume, DE_RESUME
	movw $0x1234, %ax
	xorb %cl, %cl
de_div:
	divb %cl
de_resume:
	movw DE_COUNT, %ax
	movw $1, %bx
	movw $msg_de_count, %si
	call check16
	movw DE_IP, %ax
	movw $de_div, %bx
	movw $msg_de_ip, %si
	call check16

	/* to protected mode */
	lgdtl %cs:gdt_desc
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $LIN(pm32)

int80_handler:
	incw %ax
	movw $0xbeef, %bx
	iret

de_handler:
	pushw %bp
	movw %sp, %bp
	incw DE_COUNT
	movw 2(%bp), %ax                /* saved IP */
	movw %ax, DE_IP
	movw DE_RESUME, %ax
	movw %ax, 2(%bp)
	popw %bp
	iret

uart_init16:
	movw $COM1+1, %dx
	movb $0x00, %al                 /* IER: no interrupts */
	outb %al, %dx
	movw $COM1+3, %dx
	movb $0x80, %al                 /* LCR: DLAB */
	outb %al, %dx
	movw $COM1+0, %dx
	movb $0x01, %al                 /* divisor 1: 115200 baud */
	outb %al, %dx
	movw $COM1+1, %dx
	movb $0x00, %al
	outb %al, %dx
	movw $COM1+3, %dx
	movb $0x03, %al                 /* 8N1 */
	outb %al, %dx
	movw $COM1+2, %dx
	movb $0xc7, %al                 /* FIFO on, cleared */
	outb %al, %dx
	movw $COM1+4, %dx
	movb $0x03, %al                 /* DTR RTS */
	outb %al, %dx
	ret

/* putc16: AL -> COM1 once THR is empty (LSR bit 5) */
putc16:
	pushw %dx
	pushw %ax
	movw $COM1+5, %dx
1:	inb %dx, %al
	testb $0x20, %al
	jz 1b
	popw %ax
	movw $COM1, %dx
	outb %al, %dx
	popw %dx
	ret

/* puts16: CS:SI zero-terminated */
puts16:
	pushw %ax
1:	movb %cs:(%si), %al
	testb %al, %al
	jz 2f
	call putc16
	incw %si
	jmp 1b
2:	popw %ax
	ret

/* check16: AX got, BX expected, SI name: prints "PASS name" or "FAIL name: got X expected Y" */
check16:
	cmpw %bx, %ax
	jne 1f
	incl PASSED
	pushw %si
	movw $msg_pass, %si
	call puts16
	popw %si
	call puts16
	movb $'\n', %al
	call putc16
	ret
1:	incl FAILED
	pushw %si
	movw $msg_fail, %si
	call puts16
	popw %si
	call puts16
	movw $msg_got, %si
	call puts16
	call hex16
	movw $msg_expected, %si
	call puts16
	movw %bx, %ax
	call hex16
	movb $'\n', %al
	call putc16
	ret

/* hex16: AX as 0x%x (no leading zeros) */
hex16:
	pushw %ax
	pushw %bx
	pushw %cx
	movw %ax, %bx
	movb $'0', %al
	call putc16
	movb $'x', %al
	call putc16
	movw $4, %cx
	xorb %ah, %ah                   /* AH = 1 once a digit was printed */
1:	rolw $4, %bx
	movb %bl, %al
	andb $0xf, %al
	cmpw $1, %cx
	je 2f
	testb %ah, %ah
	jnz 2f
	testb %al, %al
	jz 3f
2:	movb $1, %ah
	cmpb $10, %al
	jb 4f
	addb $'a'-10-'0', %al
4:	addb $'0', %al
	call putc16
3:	loop 1b
	popw %cx
	popw %bx
	popw %ax
	ret

	.code32
pm32:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movl $0x7000, %esp
	movl $LIN(msg_pm), %esi
	call puts32
	movl %cr0, %eax
	andl $1, %eax
	movl $1, %ebx
	movl $LIN(msg_pe), %esi
	call check32
	movl 0x200, %eax                /* IVT entry 0x80 written in real mode */
	movl $0xf0000000 + int80_handler, %ebx
	movl $LIN(msg_ivt), %esi
	call check32
	movl 0xffff0, %eax              /* the reset vector through both mappings of the image */
	movl 0xfffffff0, %ebx
	movl $LIN(msg_alias), %esi
	call check32
	movzbl 0xffff0, %eax
	movl $0xea, %ebx
	movl $LIN(msg_resetjmp), %esi
	call check32
	movl %cs, %eax
	movl $0x08, %ebx
	movl $LIN(msg_cs), %esi
	call check32
	/* 32-bit arithmetic in the new mode */
	movl $0x7fffffff, %eax
	addl $1, %eax
	movl $0x80000000, %ebx
	movl $LIN(msg_add32), %esi
	call check32

	/* SUMMARY bios-realmode: N passed, M failed */
	movl $LIN(msg_summary), %esi
	call puts32
	movl PASSED, %eax
	call dec32
	movl $LIN(msg_passed), %esi
	call puts32
	movl FAILED, %eax
	call dec32
	movl $LIN(msg_failed), %esi
	call puts32
	xorl %eax, %eax
	cmpl $0, FAILED
	setne %al
	outb %al, $0xf4
1:	cli
	hlt
	jmp 1b

putc32:
	pushl %edx
	pushl %eax
	movw $COM1+5, %dx
1:	inb %dx, %al
	testb $0x20, %al
	jz 1b
	popl %eax
	movw $COM1, %dx
	outb %al, %dx
	popl %edx
	ret

puts32:
	pushl %eax
1:	movb (%esi), %al
	testb %al, %al
	jz 2f
	call putc32
	incl %esi
	jmp 1b
2:	popl %eax
	ret

/* dec32: EAX unsigned decimal */
dec32:
	pushl %eax
	pushl %ebx
	pushl %ecx
	pushl %edx
	movl $10, %ebx
	xorl %ecx, %ecx
1:	xorl %edx, %edx
	divl %ebx
	pushl %edx
	incl %ecx
	testl %eax, %eax
	jnz 1b
2:	popl %eax
	addb $'0', %al
	call putc32
	loop 2b
	popl %edx
	popl %ecx
	popl %ebx
	popl %eax
	ret

/* hex32: EAX as 0x%x */
hex32:
	pushl %eax
	pushl %ebx
	pushl %ecx
	movl %eax, %ebx
	movb $'0', %al
	call putc32
	movb $'x', %al
	call putc32
	movl $8, %ecx
	xorb %ah, %ah
1:	roll $4, %ebx
	movb %bl, %al
	andb $0xf, %al
	cmpl $1, %ecx
	je 2f
	testb %ah, %ah
	jnz 2f
	testb %al, %al
	jz 3f
2:	movb $1, %ah
	cmpb $10, %al
	jb 4f
	addb $'a'-10-'0', %al
4:	addb $'0', %al
	call putc32
3:	loop 1b
	popl %ecx
	popl %ebx
	popl %eax
	ret

/* check32: EAX got, EBX expected, ESI name (linear) */
check32:
	cmpl %ebx, %eax
	jne 1f
	incl PASSED
	pushl %esi
	movl $LIN(msg_pass), %esi
	call puts32
	popl %esi
	call puts32
	movb $'\n', %al
	call putc32
	ret
1:	incl FAILED
	pushl %esi
	movl $LIN(msg_fail), %esi
	call puts32
	popl %esi
	call puts32
	movl $LIN(msg_got), %esi
	call puts32
	call hex32
	movl $LIN(msg_expected), %esi
	call puts32
	movl %ebx, %eax
	call hex32
	movb $'\n', %al
	call putc32
	ret

	.align 8
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff        /* 0x08: flat 32-bit code */
	.quad 0x00cf92000000ffff        /* 0x10: flat data */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long LIN(gdt)

msg_hello:	.asciz "Hello from x86jit BIOS test image (real mode)\n"
msg_segarith:	.asciz "real mode: 1000:0010 and 1001:0000 address the same byte"
msg_int80:	.asciz "real mode: int 0x80 through the IVT (AX+1)"
msg_int80_bx:	.asciz "real mode: int 0x80 handler result in BX"
msg_int80_sp:	.asciz "real mode: SP restored after int/iret"
msg_de_count:	.asciz "real mode: #DE delivered through IVT vector 0"
msg_de_ip:	.asciz "real mode: #DE saved IP is the DIV instruction"
msg_pm:		.asciz "Now in 32-bit protected mode\n"
msg_pe:		.asciz "protected mode: CR0.PE set"
msg_ivt:	.asciz "protected mode: IVT entry written in real mode at linear 0x200"
msg_alias:	.asciz "protected mode: image visible at 0xF0000 and 0xFFFF0000"
msg_resetjmp:	.asciz "protected mode: reset vector holds a far JMP (EA)"
msg_cs:		.asciz "protected mode: CS = 0x08"
msg_add32:	.asciz "protected mode: 32-bit add"
msg_pass:	.asciz "PASS "
msg_fail:	.asciz "FAIL "
msg_got:	.asciz ": got "
msg_expected:	.asciz " expected "
msg_summary:	.asciz "SUMMARY bios-realmode: "
msg_passed:	.asciz " passed, "
msg_failed:	.asciz " failed\n"

	.org 0xfff0
	.code16
reset_vector:                           /* F000:FFF0, physical 0xFFFFFFF0 at reset */
	ljmp $0xf000, $reset_entry
	.org 0x10000
