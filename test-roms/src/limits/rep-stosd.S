/* Issue 15.3: REP STOSD of 256 KiB (one REP chunk, which compiled code runs as a store loop), for ever. */
#include "common.h"
_start:
	cld
top:	mov edi, 0x200000
	mov ecx, 0x10000
	xor eax, eax
	rep stosd
	jmp top
