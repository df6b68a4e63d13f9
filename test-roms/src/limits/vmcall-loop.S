/* Issue 15.3: every instruction slow: CONSOLE_WRITE hypercalls of 64 KiB in a tight loop (output to stdout). */
#include "common.h"
_start:
top:	mov eax, 0x10001
	mov ebx, 0
	mov ecx, 0x10000
	vmcall
	jmp top
