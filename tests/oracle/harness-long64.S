/*
 * Long-mode harness (harness64.c built with -DSNIPPETS_IN_LONG_MODE), the part that must be assembly: the
 * snippet runs in 64-bit mode itself, re-encoded from its 32-bit form by tests/oracle/long64.ts (32-bit
 * operand size, 67h on every memory operand, no REX), for kernels and hypervisors that run no 32-bit code
 * at all. Entry loads every general register with a 32-bit MOV (so the upper halves are zero) and RFLAGS
 * from the case; case_done captures the low halves. There is no 16-bit code here: such cases never come.
 *
 * Leaving C and coming back to it (run_snippet, fault_resume) is runtime64.S.
 *
 * Build (tests/oracle/host.ts does this per test run; harness-long64.bin is the same build, stripped, for
 * machines without gcc — rebuild it whenever this file, runtime64.S, harness64.c, harness-batch.c or
 * harness.h changes):
 *   gcc -m64 -DSNIPPETS_IN_LONG_MODE -ffreestanding -nostdlib -static -fno-pie -no-pie -fno-stack-protector
 *       -fno-tree-loop-distribute-patterns -O2 -Wall -Wl,--build-id=none -fcf-protection=none
 *       -Wl,-Ttext-segment=0x8048000 harness64.c runtime64.S harness-long64.S harness-batch.c
 *       -o harness-long64.bin
 *   strip harness-long64.bin
 */
        .text
        .code64

        /* From run_snippet (runtime64.S), with the C context saved. */
        .globl  to_snippet
to_snippet:
        /* POPFQ from a private slot (RSP points at it for this one instruction), then EAX..EDI, ESP last. */
        movl    case_eflags(%rip), %eax
        movq    %rax, flags_slot(%rip)
        leaq    flags_slot(%rip), %rsp
        popfq
        movl    case_regs+0(%rip), %eax
        movl    case_regs+4(%rip), %ecx
        movl    case_regs+8(%rip), %edx
        movl    case_regs+12(%rip), %ebx
        movl    case_regs+20(%rip), %ebp
        movl    case_regs+24(%rip), %esi
        movl    case_regs+28(%rip), %edi
        movl    case_regs+16(%rip), %esp
        jmp     *code_entry(%rip)

        /* Never reached: harness64.c reports no 16-bit code segment in this build. */
        .globl  to_snippet16
to_snippet16:
        ud2

        .globl  case_done
        .type   case_done, @function
case_done:
        movl    %esp, out_regs+16(%rip)
        leaq    flags_slot+8(%rip), %rsp
        pushfq
        movl    %eax, out_regs+0(%rip)
        movl    flags_slot(%rip), %eax
        movl    %eax, out_eflags(%rip)
        movl    %ecx, out_regs+4(%rip)
        movl    %edx, out_regs+8(%rip)
        movl    %ebx, out_regs+12(%rip)
        movl    %ebp, out_regs+20(%rip)
        movl    %esi, out_regs+24(%rip)
        movl    %edi, out_regs+28(%rip)
        jmp     fault_resume

        .data
        .align  8
code_entry:
        .quad   0x00100000
flags_slot:
        .quad   0

        .section .note.GNU-stack,"",@progbits
