/* Issue 15.1's worker-killer: a guest that executes fresh code for ever, no two instructions alike. It
 * writes `mov eax, imm32` with a counter as the immediate from 0x200000 to 0xe00000 (so 16 MiB of RAM),
 * ends that code with a jump back to its start, and runs it: 2.5 M different instructions, more than the
 * decoded-code cache holds, so every pass decodes them anew, each with an Instruction and a closure of its
 * own. (fresh-code.S's zeroed RAM is one instruction repeated, which the cache keeps one closure for.) */
#include "common.h"
_start:
	mov edi, 0x200000
	xor ecx, ecx
1:	mov byte ptr [edi], 0xb8
	mov [edi + 1], ecx
	add edi, 5
	inc ecx
	cmp edi, 0xe00000
	jb 1b
	/* jmp rel32 back to 0x200000 */
	mov byte ptr [edi], 0xe9
	mov eax, 0x200000 - 5
	sub eax, edi
	mov [edi + 1], eax
	jmp 0x200000
