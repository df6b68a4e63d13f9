/* Issue 15.1: fill RAM from 2 MiB up to 120 MiB with NOPs and run into them (fresh code, 128 per block). */
#include "common.h"
_start:
	cld
	mov edi, 0x200000
	mov ecx, (120 << 20) - 0x200000
	mov al, 0x90
	rep stosb
	jmp 0x200000
