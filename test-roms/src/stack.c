/* stack: PUSH/POP (reg, imm8, imm32, mem, ESP itself, 16-bit), PUSHA/POPA, PUSHF/POPF, CALL/RET,
 * RET imm16, ENTER (levels 0, 1, 3)/LEAVE, recursion, indirect CALL/JMP through a table and a register,
 * far CALL/RET (direct, indirect m16:32, RET imm16) through the GDT code selector, PUSH/POP sreg.
 * The sequences live in stack-asm.S; expected values follow from the SDM pseudo-code. */
#include "rt.h"

void push_pop_test(u32 *out);
void pusha_test(u32 *out);
u32 call_stdcall(u32 *esp_delta);
void enter_test(u32 level, u32 stack_top, u32 ebp_in, u32 *out);
u32 fib(u32 n);
extern u32 fib_calls;
u32 call_table(u32 i);
u32 call_reg(u32 i);
u32 jmp_table(u32 i);
void far_test(u32 *out);
u32 sreg_push_test(void);

static void test_push_pop(void)
{
	u32 o[13];
	memset(o, 0, sizeof(o));
	push_pop_test(o);
	CHECK(o[0], (u32)-4, "push imm8: ESP -= 4");
	CHECK(o[1], 0xfffffffe, "push imm8 sign-extends");
	CHECK(o[2], 0x12345678, "push imm32 / pop mem");
	CHECK(o[3], 0xcafef00d, "push mem");
	CHECK(o[4], 0, "push esp pushes the value before the push");
	CHECK(o[5], (u32)-8, "pop esp loads the popped value");
	CHECK(o[6], (u32)-2, "pushw imm16: ESP -= 2");
	CHECK(o[7], 0xbeef, "pushw imm16 value");
	CHECK(o[8], 0x600d600d, "pop mem");
	CHECK(o[9], 0x11111111, "pop (esp) addresses memory after the increment");
	CHECK(o[10], 0, "pushw reg / popw reg balanced");
	CHECK(o[11], 0x9999abcd, "popw cx keeps ECX upper half");
}

static void test_pusha(void)
{
	u32 o[17];
	memset(o, 0, sizeof(o));
	pusha_test(o);
	static const u32 pushed[8] = { 0xd7d7d7d7, 0x5e5e5e5e, 0xb5b5b5b5, 0 /* ESP */, 0xb3b3b3b3, 0xd2d2d2d2,
				       0xc1c1c1c1, 0xa0a0a0a0 };
	static const char *const regs[8] = { "edi", "esi", "ebp", "esp", "ebx", "edx", "ecx", "eax" };
	for (int i = 0; i < 8; i++) {
		if (i == 3) continue;   /* the ESP slot is checked through its relation to the others */
		CHECK(o[i], pushed[i], "pusha stores %s", regs[i]);
	}
	CHECK(o[8], 0, "pusha + 8 pops balanced");
	CHECK(o[9], 0x10000001, "popa eax");
	CHECK(o[10], 0x10000002, "popa ecx");
	CHECK(o[11], 0x10000003, "popa edx");
	CHECK(o[12], 0x10000004, "popa ebx");
	CHECK(o[13], 0, "popa: ESP advances by 32, ignoring the ESP word");
	CHECK(o[14], 0x10000006, "popa ebp");
	CHECK(o[15], 0x10000007, "popa esi");
	CHECK(o[16], 0x10000008, "popa edi");
}

/* The ESP word PUSHA stores is the ESP before the first push. */
static u32 g_before, g_slot;   /* globals: POPA restores every register, ESP moves */
static void test_pusha_esp(void)
{
	__asm__ volatile("movl %%esp, %0\n\tpushal\n\tmovl 12(%%esp), %%eax\n\tmovl %%eax, %1\n\tpopal"
			 : "=m"(g_before), "=m"(g_slot) : : "memory");
	CHECK(g_slot, g_before, "pusha stores the original ESP");
}

static void test_flags(void)
{
	u32 got, esp0, esp1;
	/* every writable flag except TF/IF (would trap / enable interrupts): CF PF AF ZF SF DF OF IOPL NT AC */
	u32 in = 0x00047ed5 & ~(FL_TF | FL_IF);
	__asm__ volatile("movl %%esp, %1\n\tpushl %3\n\tpopfl\n\tpushfl\n\tpopl %0\n\tmovl %%esp, %2\n\t"
			 "pushl $2\n\tpopfl"
			 : "=&r"(got), "=&r"(esp0), "=&r"(esp1) : "r"(in) : "cc");
	CHECK(got, in | 0x2, "popf/pushf round trip of CF PF AF ZF SF DF OF IOPL NT AC");
	CHECK(esp1 - esp0, 0, "pushf/popf balanced");
	__asm__ volatile("pushl $0xfffffcff\n\tpopfl\n\tpushfl\n\tpopl %0\n\tpushl $2\n\tpopfl" : "=r"(got) : : "cc");
	/* all ones except TF/IF: reserved bits 3, 5, 15, 22-31 read 0, bit 1 reads 1; POPF never sets
	 * RF, VM, VIF, VIP at CPL 0. (ID and AC depend on the CPU model: not looked at.) */
	CHECK(got & 0xffdb802a, 0x2, "popf of all-ones: reserved bits, RF, VM, VIF, VIP stay clear");
	u16 w;
	__asm__ volatile("pushw $0x08d5\n\tpopfw\n\tpushfw\n\tpopw %0\n\tpushl $2\n\tpopfl" : "=r"(w) : : "cc");
	CHECK(w, 0x08d7, "popfw/pushfw 16-bit");
}

static void test_calls(void)
{
	u32 delta = 99;
	CHECK(call_stdcall(&delta), 42, "ret imm16 callee result");
	CHECK(delta, 0, "ret imm16 pops the arguments");
	fib_calls = 0;
	CHECK(fib(20), 6765, "recursive fib(20)");
	CHECK(fib_calls, 21891, "recursive fib(20) call count");
	for (u32 i = 0; i < 4; i++) {
		CHECK(call_table(i), i * 11, "call *table(,%%eax,4) index %u", i);
		CHECK(call_reg(i), i * 11, "call *%%ecx index %u", i);
		CHECK(jmp_table(i), i * 11, "jmp *table(,%%eax,4) index %u", i);
	}
	u32 ret_here, label;
	__asm__ volatile("call 1f\n1:\tpopl %0\n\tmovl $1b, %1" : "=r"(ret_here), "=r"(label));
	CHECK(ret_here, label, "call pushes the address of the next instruction");
}

/* ENTER with a stack in an array, so the frame contents can be checked word by word. */
static u32 estk[64];

static void test_enter(void)
{
	static const u32 levels[3] = { 0, 1, 3 };
	static const u32 sizes[3] = { 16, 8, 12 };
	for (int k = 0; k < 3; k++) {
		u32 o[4];
		memset(estk, 0, sizeof(estk));
		/* an enclosing frame with a display: [ebp-4], [ebp-8] are the outer frame pointers */
		u32 *outer = &estk[60];
		outer[-1] = 0x11111111;
		outer[-2] = 0x22222222;
		u32 top = (u32)&estk[40];
		enter_test(levels[k], top, (u32)outer, o);
		u32 L = levels[k], frame = top - 4;   /* after pushing EBP */
		u32 esp = frame - (L ? 4 * (L - 1) + 4 : 0) - sizes[k];
		CHECK(o[0], esp, "enter %u,%u: ESP", sizes[k], L);
		CHECK(o[1], frame, "enter %u,%u: EBP = frame", sizes[k], L);
		CHECK(estk[39], (u32)outer, "enter %u,%u: old EBP pushed", sizes[k], L);
		if (L >= 1) CHECK(estk[39 - L], frame, "enter %u,%u: frame pointer pushed last", sizes[k], L);
		if (L == 3) {
			CHECK(estk[38], 0x11111111, "enter 12,3: display entry 1 copied");
			CHECK(estk[37], 0x22222222, "enter 12,3: display entry 2 copied");
		}
		CHECK(o[2], top, "enter %u,%u / leave: ESP restored", sizes[k], L);
		CHECK(o[3], (u32)outer, "enter %u,%u / leave: EBP restored", sizes[k], L);
	}
}

static void test_far(void)
{
	u32 o[7];
	memset(o, 0, sizeof(o));
	far_test(o);
	CHECK(o[0], 0x08, "lcall pushes CS");
	CHECK(o[1], o[2], "lcall pushes the return EIP");
	CHECK(o[3], 0, "lcall/lret balanced");
	CHECK(o[4], 0x7a7a7a7a, "indirect lcall through m16:32");
	CHECK(o[5], 0, "lret $8 pops the arguments");
	CHECK(o[6], 35, "lret $8 callee read its arguments");
	u32 r = sreg_push_test();
	CHECK(r & 0xffff, 0x10, "push ds / pop es");
	CHECK(r >> 16, 0, "push sreg / pop sreg balanced");
}

void test_main(void)
{
	test_push_pop();
	test_pusha();
	test_pusha_esp();
	test_flags();
	test_calls();
	test_enter();
	test_far();
	rt_finish("stack");
}
