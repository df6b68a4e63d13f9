/*
 * The 32-bit harnesses' way into a snippet and out of it, in 32-bit code: the i386 harness's runtime32.S
 * jumps here from C, the compatibility-mode harness's harness64.S far jumps here from 64-bit mode. Both
 * come with the C context saved, and case_done leaves through return_to_c, each harness's own way back
 * to fault_resume.
 *
 *   enter32, enter16 -> load EFLAGS with POPFD from a private slot, EAX..EDI, then ESP, and jump to the
 *                       snippet: to CODE_ADDR, or by a far jump to offset 0 of the 16-bit code segment.
 *   snippet bytes, then "jmp case_done" (written by harness-batch.c after the snippet; 16-bit code ends
 *                       with a 32-bit far jump to flat-CS:case_done instead)
 *   case_done        -> stores ESP and the other registers, PUSHFD into a private slot, and jumps to
 *                       return_to_c.
 */
        .text
        .code32

        /* Load the case's EFLAGS (POPFD from its slot: ESP points at it for this one instruction) and
         * EAX..EDI, ESP last. MOV does not touch flags, so they survive to the snippet. */
        .macro  enter_case
        movl    $case_eflags, %esp
        popfl
        movl    case_regs+0, %eax
        movl    case_regs+4, %ecx
        movl    case_regs+8, %edx
        movl    case_regs+12, %ebx
        movl    case_regs+20, %ebp
        movl    case_regs+24, %esi
        movl    case_regs+28, %edi
        movl    case_regs+16, %esp
        .endm

        .globl  enter32, enter16
enter32:
        enter_case
        jmp     *code_entry

enter16:
        enter_case
        ljmp    *code16_entry

        .globl  case_done
        .type   case_done, @function
case_done:
        movl    %esp, out_regs+16
        /* PUSHFD into out_eflags: point ESP just past the slot. */
        movl    $out_eflags+4, %esp
        pushfl
        movl    %eax, out_regs+0
        movl    %ecx, out_regs+4
        movl    %edx, out_regs+8
        movl    %ebx, out_regs+12
        movl    %ebp, out_regs+20
        movl    %esi, out_regs+24
        movl    %edi, out_regs+28
        jmp     return_to_c

        .data
        .align  4
code_entry:
        .long   0x00100000

        .section .note.GNU-stack,"",@progbits
