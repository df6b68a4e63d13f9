/* selfmod: self-modifying code must take effect — a warmed-up loop whose MOV immediate is rewritten,
 * a loop that rewrites its own immediate mid-run, a store into the next instruction of the same block,
 * an opcode (ModRM) rewrite, a JMP target rewrite, rewrites by REP MOVSB, and code generated into a
 * data buffer then regenerated at the same address. Tests decoded-code / translation invalidation. */
#include "rt.h"

u32 hot_loop(u32 n);
u32 patch_in_loop(u32 n);
u32 patch_next(u32 v);
u32 op_patch(u32 x);
u32 jmp_patch(void);
extern u8 hot_imm[], op_site[], jmp_site[], jmp_target_a[], jmp_target_b[];

static u8 codebuf[64] __attribute__((aligned(16)));
typedef u32 (*gen_fn)(void);

static void put32(u8 *p, u32 v)
{
	for (int i = 0; i < 4; i++, v >>= 8) p[i] = (u8)v;
}

void test_main(void)
{
	/* 1. warm up, then patch the immediate */
	u32 sum = 0;
	for (int i = 0; i < 200; i++) sum += hot_loop(1000);
	CHECK(sum, 200 * 1000 * 0x11, "hot loop before patch (200 x 1000 iterations)");
	put32(hot_imm + 1, 0x22);
	CHECK(hot_loop(1000), 1000 * 0x22, "hot loop after patching the MOV immediate");
	put32(hot_imm + 1, 0x33);
	CHECK(hot_loop(7), 7 * 0x33, "hot loop after a second patch");

	/* 2. the loop patches itself while running */
	for (int i = 0; i < 3; i++)
		CHECK(patch_in_loop(1000), 501 * 1 + 499 * 3, "loop rewrites its own immediate mid-run (round %d)", i);

	/* 3. store into the next instruction of the same block */
	u32 bad = 0;
	for (u32 v = 1; v <= 500; v++)
		if (patch_next(v * 3) != v * 3) bad++;
	CHECK(bad, 0, "store into the next instruction, 500 different values");

	/* 4. opcode rewrite: add $5 -> sub $5 (ModRM reg field /0 -> /5) */
	for (int i = 0; i < 100; i++) sum += op_patch(i);
	CHECK(op_patch(100), 105, "add eax,5 before rewrite");
	op_site[1] = 0xe8;
	CHECK(op_patch(100), 95, "sub eax,5 after ModRM rewrite");
	op_site[1] = 0xc0;
	CHECK(op_patch(100), 105, "add eax,5 after rewriting back");

	/* 5. jump target rewrite */
	for (int i = 0; i < 100; i++) sum += jmp_patch();
	CHECK(jmp_patch(), 0xa, "jmp to target A");
	put32(jmp_site + 1, (u32)jmp_target_b - ((u32)jmp_site + 5));
	CHECK(jmp_patch(), 0xb, "jmp retargeted to B");
	put32(jmp_site + 1, (u32)jmp_target_a - ((u32)jmp_site + 5));
	CHECK(jmp_patch(), 0xa, "jmp retargeted back to A");

	/* 6. rewrite by a string instruction: copy "mov $0x44, %eax" over the hot loop's MOV */
	static const u8 mov44[5] = { 0xb8, 0x44, 0x00, 0x00, 0x00 };
	u32 d = (u32)hot_imm, s = (u32)mov44, c = 5;
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(c) : : "memory");
	CHECK(hot_loop(10), 10 * 0x44, "hot loop after REP MOVSB rewrite");

	/* 7. generated code in a data buffer, regenerated at the same address */
	gen_fn fn = (gen_fn)(u32)codebuf;
	codebuf[0] = 0xb8; put32(codebuf + 1, 0x1234); codebuf[5] = 0xc3;   /* mov $0x1234, %eax; ret */
	u32 r = 0;
	for (int i = 0; i < 50; i++) r = fn();
	CHECK(r, 0x1234, "generated code: mov eax,0x1234; ret");
	put32(codebuf + 1, 0x5678);
	CHECK(fn(), 0x5678, "generated code after rewriting the immediate");
	static const u8 prog[] = { 0x31, 0xc0, 0x40, 0x40, 0x40, 0xc3 };     /* xor eax,eax; inc x3; ret */
	memcpy(codebuf, prog, sizeof(prog));
	CHECK(fn(), 3, "generated code replaced by a different instruction sequence");
	codebuf[2] = 0x48;                                                   /* first inc -> dec */
	CHECK(fn(), 1, "generated code: single opcode byte changed");
	rt_finish("selfmod");
}
