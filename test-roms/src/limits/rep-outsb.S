/* Issue 15.3: REP OUTSB of 1 MiB to an unassigned port, for ever (every element an I/O access). */
#include "common.h"
_start:
	cld
top:	mov dx, 0x80
	mov esi, 0
	mov ecx, 0x100000
	rep outsb
	jmp top
