/* The 1 MiB text console-uart.elf and console-pv.elf both print: 16384 lines of 64 bytes,
 * "NNNNN " (line number) + 57 characters from a 64-symbol alphabet rotated by the line number + '\n'.
 * Then both print the same "PASS ... / SUMMARY console: ..." lines, so the outputs are byte-identical. */
#ifndef CONSOLE_PATTERN_H
#define CONSOLE_PATTERN_H
#include "rt.h"

#define CONSOLE_LINES 16384u
#define CONSOLE_LINE_LEN 64u
#define CONSOLE_TOTAL (CONSOLE_LINES * CONSOLE_LINE_LEN)   /* 1 MiB */

static const char console_alphabet[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static inline void console_line(u32 i, char *out)
{
	u32 v = i;
	for (int k = 4; k >= 0; k--) { out[k] = (char)('0' + v % 10); v /= 10; }
	out[5] = ' ';
	for (u32 k = 6; k < CONSOLE_LINE_LEN - 1; k++) out[k] = console_alphabet[(i * 7 + k) & 63];
	out[CONSOLE_LINE_LEN - 1] = '\n';
}
#endif
