/*
 * The i386 harness's way out of C and back (harness.c; the snippet is entered and left in case32.S):
 * saving the C context before a case and restoring it after, and the signal restorer.
 *
 * Control flow of one case:
 *   run_snippet (called from C)  -> saves the C context on the host stack (PUSHAD, ESP in host_esp) and
 *                                   jumps to enter32 (case32.S), which enters the snippet; run_snippet16
 *                                   the same to enter16, for the 16-bit code segment.
 *   case_done (case32.S)         -> captures the registers and EFLAGS and jumps to return_to_c:
 *   return_to_c, fault_resume    -> restore the C context and return to C.
 *   on a fault: the C signal handler (running on the alternate signal stack) records the state from
 *   the ucontext and redirects the saved EIP to fault_resume.
 */
        .text

        .macro  save_c_context
        pushal
        movl    %esp, host_esp
        .endm

        .globl  run_snippet
        .type   run_snippet, @function
run_snippet:
        save_c_context
        jmp     enter32

        .globl  run_snippet16
        .type   run_snippet16, @function
run_snippet16:
        save_c_context
        jmp     enter16

        /* Back from case_done or (through the signal handler) from a fault. The C code expects the ABI's DF = 0. */
        .globl  return_to_c, fault_resume
        .type   fault_resume, @function
return_to_c:
fault_resume:
        cld
        movl    host_esp, %esp
        popal
        ret

        /* SA_RESTORER target: the handler returns here; rt_sigreturn (173) reloads the edited ucontext. */
        .globl  signal_restorer
        .type   signal_restorer, @function
signal_restorer:
        movl    $173, %eax
        int     $0x80
        hlt

        .data
        .align  4
        .globl  host_esp
host_esp:
        .long   0

        .section .note.GNU-stack,"",@progbits
