/* Issue 15.5: the #UD vector points at the UD2 that raises it: faults for ever, no instruction retires. */
#include "common.h"
_start:
	FLAT_GDT
	lidt [idtr]
here:	ud2
	GDT_DATA
idtr:	.word 7 * 8 - 1
	.long idt
	.balign 8
idt:	.fill 6, 8, 0
	GATE here
