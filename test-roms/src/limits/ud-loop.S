/* Issue 15.5: the #UD vector points at the UD2 that raises it: faults for ever, no instruction retires. */
#include "common.h"
_start:
	FLAT_GDT
	lidt [idtr]
here:	ud2
	GDT_DATA
	IDT_WITH_GATE 6, here
