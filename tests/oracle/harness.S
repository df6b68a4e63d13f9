/*
 * Host-CPU oracle harness, the part that must be assembly: entering a test snippet with every
 * general register and EFLAGS taken from the case, capturing them again when the snippet falls
 * through to its end, and the signal restorer. The batch loop and the record format are in
 * harness.c (read its header comment first).
 *
 * Control flow of one case:
 *   run_snippet (called from C)  -> saves the C context on the host stack, loads EFLAGS with POPFD
 *                                   from a private slot, loads EAX..EDI, then ESP, and jumps to the
 *                                   code page (CODE_ADDR).
 *   snippet bytes, then "jmp case_done" (written by harness.c after the snippet; for 16-bit code
 *                                   run_snippet16 enters by a far jump and the snippet ends with a
 *                                   32-bit far jump back to the flat code segment)
 *   case_done                    -> stores ESP and the other registers, PUSHFD into a private slot,
 *                                   restores the C context and returns to C.
 *   on a fault: the C signal handler (running on the alternate signal stack) records the state from
 *   the ucontext and redirects the saved EIP to fault_resume, which restores the C context the same way.
 */
        .text

        /* Save the C context, then load the case's EFLAGS (POPFD from its slot: ESP points at it for this
         * one instruction) and EAX..EDI, ESP last. MOV does not touch flags, so they survive to the snippet. */
        .macro  enter_case
        pushal
        movl    %esp, host_esp
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


        /* run_snippet16: the same, but enters the snippet in the 16-bit LDT code segment (far jump). */
        .globl  run_snippet16
        .type   run_snippet16, @function
run_snippet16:
        enter_case
        ljmp    *code16_entry

        .globl  run_snippet
        .type   run_snippet, @function
run_snippet:
        enter_case
        jmp     *code_entry

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
        /* The C code expects the ABI's DF = 0. */
        cld
        movl    host_esp, %esp
        popal
        ret

        .globl  fault_resume
        .type   fault_resume, @function
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
code_entry:
        .long   0x00100000
        /* Far pointer (offset, selector) to offset 0 of the 16-bit code segment; harness.c sets the selector. */
        .globl  code16_entry
code16_entry:
        .long   0
        .word   0
        .globl  host_esp
host_esp:
        .long   0

        .section .note.GNU-stack,"",@progbits
