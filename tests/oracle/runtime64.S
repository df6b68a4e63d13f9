/*
 * The 64-bit harnesses' way out of C and back (harness64.c, both builds): the program entry, saving the C
 * context before a case and restoring it after, and the signal restorer. Where the snippet runs is the
 * harness's own assembly: harness64.S (a 32-bit compatibility-mode code segment) or harness-long64.S (64-bit
 * mode); each defines to_snippet and to_snippet16, which run_snippet and run_snippet16 jump to with the C
 * context saved, and gets back to fault_resume when the case ends. On a fault the signal handler
 * (harness64.c) records the state and makes the kernel resume at fault_resume with RSP = host_rsp.
 */
        .text
        .code64

        /* Save the C context: the callee-saved registers on the C stack, RSP in host_rsp (fault_resume undoes it). */
        .macro  save_c_context
        pushq   %rbx
        pushq   %rbp
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        movq    %rsp, host_rsp(%rip)
        .endm

        .globl  run_snippet
        .type   run_snippet, @function
run_snippet:
        save_c_context
        jmp     to_snippet

        .globl  run_snippet16
        .type   run_snippet16, @function
run_snippet16:
        save_c_context
        jmp     to_snippet16

        /* Back from case_done or (through the signal handler) from a fault. */
        .globl  fault_resume
        .type   fault_resume, @function
fault_resume:
        cld
        movq    host_rsp(%rip), %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbp
        popq    %rbx
        ret

        /* SA_RESTORER target: the handler returns here; rt_sigreturn (15) reloads the edited ucontext. */
        .globl  signal_restorer
        .type   signal_restorer, @function
signal_restorer:
        movl    $15, %eax
        syscall
        hlt

        /* The C entry point wants RSP 16-byte aligned before its call. */
        .globl  _start
        .type   _start, @function
_start:
        xorl    %ebp, %ebp
        andq    $-16, %rsp
        call    harness_main
        hlt

        .data
        .align  8
        .globl  host_rsp
host_rsp:
        .quad   0

        .section .note.GNU-stack,"",@progbits
