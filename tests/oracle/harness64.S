/*
 * Compatibility-mode harness (harness64.c), the part that must be assembly: switching from 64-bit mode
 * into the flat 32-bit code segment for case32.S, which enters the snippet and captures the state after
 * it, and switching back. Leaving C and coming back to it is runtime64.S.
 *
 * Control flow of one case:
 *   run_snippet (64-bit, runtime64.S) -> saves the C context (callee-saved registers, RSP), jumps to
 *   to_snippet (64-bit)           -> loads DS and ES with the flat data selector (64-bit code runs with
 *                                   null ones, which fault in compatibility mode), far jumps to enter32
 *                                   (case32.S) in the flat 32-bit code segment (harness64.c's
 *                                   flat_code_segment); to_snippet16 the same to enter16.
 *   enter32, the snippet, case_done (32-bit, case32.S) -> case_done jumps to
 *   return_to_c (32-bit)          -> far jumps to 0x33:fault_resume.
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
        .globl  return_to_c
return_to_c:
        ljmp    *back64_ptr

        .data
        .align  8
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

        .section .note.GNU-stack,"",@progbits
