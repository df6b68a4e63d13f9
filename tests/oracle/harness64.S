/*
 * Compatibility-mode harness (harness64.c), the part that must be assembly: switching from 64-bit mode
 * into the flat 32-bit code segment, entering the snippet with every general register and EFLAGS taken
 * from the case, capturing them when the snippet falls through to its end, and switching back. Leaving C
 * and coming back to it is runtime64.S; the i386 harness.S does the same without the mode switches.
 *
 * Control flow of one case:
 *   run_snippet (64-bit, runtime64.S) -> saves the C context (callee-saved registers, RSP), jumps to
 *   to_snippet (64-bit)           -> loads DS and ES with the flat data selector (64-bit code runs with
 *                                   null ones, which fault in compatibility mode), far jumps to enter32 in
 *                                   the flat 32-bit code segment (harness64.c's flat_code_segment).
 *   enter32 (32-bit)              -> loads EFLAGS with POPFD from a private slot, EAX..EDI, then ESP, and
 *                                   jumps to CODE_ADDR (enter16 instead far jumps to the 16-bit segment).
 *   snippet bytes, then "jmp case_done" (or the 16-bit code's far jump to flat-CS:case_done)
 *   case_done (32-bit)            -> stores ESP and the other registers, PUSHFD into a private slot, and
 *                                   far jumps to 0x33:fault_resume.
 *   fault_resume (64-bit, runtime64.S) -> restores the C context and returns to C.
 *   on a fault: the signal handler (64-bit, on the alternate signal stack) records the state and makes
 *   the kernel resume at 0x33:fault_resume with RSP = host_rsp.
 * Far jumps go through m16:32 pointers: the form both Intel and AMD accept in either mode.
 */
        .set    USER_CS, 0x33
        .set    USER_DS, 0x2b

        .text
        .code64

        /* Leave 64-bit mode for the 32-bit entry `ptr` points to (run_snippet saved the C context). */
        .macro  to_compat ptr
        movl    $USER_DS, %eax
        movl    %eax, %ds
        movl    %eax, %es
        ljmpl   *\ptr(%rip)
        .endm

        .globl  to_snippet, to_snippet16
to_snippet:
        to_compat enter32_ptr
to_snippet16:
        to_compat enter16_ptr

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
        ljmp    *back64_ptr

        .data
        .align  8
code_entry:
        .long   0x00100000
        /* Far pointers (offset, selector); harness64.c fills in the flat 32-bit code selector. */
        .globl  enter32_ptr, enter16_ptr
enter32_ptr:
        .long   enter32
        .long   0
enter16_ptr:
        .long   enter16
        .long   0
back64_ptr:
        .long   fault_resume
        .word   USER_CS
        /* To offset 0 of the 16-bit code segment; harness-batch.c sets it (as two 32-bit words). */
        .align  4
        .globl  code16_entry
code16_entry:
        .long   0
        .long   0

        .section .note.GNU-stack,"",@progbits
