/* Issue 15.2: computed jumps, the last to EIP 0xFFFFFFFF (which the run loop once took for "no link"). */
#include "common.h"
_start:
	xor esi, esi
top:	mov eax, [tbl + esi * 4]
	inc esi
	jmp eax
l1:	jmp top
	.balign 4
tbl:	.long l1, l1, 0xffffffff
