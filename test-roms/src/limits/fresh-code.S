/* Issue 15.1: a guest that executes fresh code for ever. Zeroed RAM decodes as `add [eax],al`, so from
 * 0x200000 on every instruction is new to the decoded-code cache; EAX points at a harmless data byte. */
#include "common.h"
_start:
	mov eax, 0x3000000
	jmp 0x200000
