/* hypercall: x86jit's paravirtual interface (rt/pv.h). Detects the hypervisor through CPUID
 * 0x40000000/0x40000001, then exercises every hypercall: FEATURES, CONSOLE_WRITE (all output of this
 * ROM goes through it: the UART is never touched), TIME (monotonic), YIELD, an unknown number
 * (-1000), a buffer outside RAM (-14), VMCALL from ring 3 (-1, nothing done), and ends with EXIT 0.
 * Does not run under QEMU (TCG has no such hypercalls): there it reports "not detected" on COM1 and
 * exits with status 1 through port 0xF4. expected/hypercall.txt was written by hand from the ABI. */
#include "rt.h"
#include "pv.h"
#include "ring3.h"

#define USER __attribute__((section(".user.text"), noinline))
#define UDATA_SEC __attribute__((section(".user.data")))

static const char hello[] = "CONSOLE_WRITE: hello from a paravirtualized guest\n";
static const char from_ring3[] = "this text must not appear (CONSOLE_WRITE from ring 3)\n";

static u32 u_write_ret UDATA_SEC, u_exit_ret UDATA_SEC, u_features_ret UDATA_SEC;
static u8 ustack[1024] UDATA_SEC __attribute__((aligned(16)));

/* Ring 3: three hypercalls, each must return -EPERM without effect (EXIT must not end the run). */
USER static void user_calls(void)
{
	u_write_ret = vmcall(HC_CONSOLE_WRITE, (u32)from_ring3, sizeof(from_ring3) - 1);
	u_exit_ret = vmcall(HC_EXIT, 0x55, 0);
	u_features_ret = vmcall(HC_FEATURES, 0, 0);
	__asm__ volatile("int $0x81");
}

/* Registers other than EAX survive a hypercall (KVM convention): runs YIELD with known values in
 * EBX ECX EDX ESI EDI EBP and stores what came back. */
u32 saved_regs[7];   /* referenced by name from asm */
static void yield_preserving(void)
{
	__asm__ volatile("pushl %%ebp\n\t"
			 "movl $0x11111111, %%ebx\n\tmovl $0x22222222, %%ecx\n\tmovl $0x33333333, %%edx\n\t"
			 "movl $0x44444444, %%esi\n\tmovl $0x55555555, %%edi\n\tmovl $0x66666666, %%ebp\n\t"
			 "movl %[nr], %%eax\n\t"
			 ".byte 0x0f, 0x01, 0xc1\n\t"
			 "movl %%eax, saved_regs\n\tmovl %%ebx, saved_regs+4\n\tmovl %%ecx, saved_regs+8\n\t"
			 "movl %%edx, saved_regs+12\n\tmovl %%esi, saved_regs+16\n\tmovl %%edi, saved_regs+20\n\t"
			 "movl %%ebp, saved_regs+24\n\t"
			 "popl %%ebp"
			 : : [nr] "i"(HC_YIELD) : "eax", "ebx", "ecx", "edx", "esi", "edi", "memory", "cc");
}

void test_main(void)
{
	u32 max = 0;
	if (!rt_pv) {
		/* rt-pv.c fell back to the UART: not running under x86jit. */
		rt_puts("hypervisor: x86jit not detected (CPUID 0x40000000 signature missing)\n");
		CHECK(0, 1, "x86jit hypervisor present");
		rt_finish("hypercall");
	}
	rt_puts("hypervisor: x86jit detected\n");
	pv_detect(&max);
	CHECK(max, 0x40000001, "CPUID 0x40000000: max hypervisor leaf");
	u32 a, b, c, d;
	cpuid(PV_CPUID_BASE + 1, &a, &b, &c, &d);
	u32 all = PV_FEAT_CONSOLE | PV_FEAT_EXIT | PV_FEAT_TIME | PV_FEAT_YIELD;
	CHECK(a, all, "CPUID 0x40000001: features console, exit, time, yield");
	u32 features = vmcall(HC_FEATURES, 0, 0);
	CHECK(features, all, "FEATURES hypercall");
	CHECK(features, a, "FEATURES agrees with CPUID 0x40000001");

	/* CONSOLE_WRITE: the text itself is the first check (it must appear in the output). */
	rt_flush();
	u32 n = vmcall(HC_CONSOLE_WRITE, (u32)hello, sizeof(hello) - 1);
	CHECK(n, sizeof(hello) - 1, "CONSOLE_WRITE returns the byte count");
	CHECK(vmcall(HC_CONSOLE_WRITE, (u32)hello, 0), 0, "CONSOLE_WRITE of 0 bytes returns 0");
	CHECK(vmcall(HC_CONSOLE_WRITE, 0xf0000000u, 16), PV_EFAULT, "CONSOLE_WRITE buffer outside RAM: -EFAULT");

	u64 t1 = pv_time();
	for (volatile int i = 0; i < 10000; i++) ;
	u64 t2 = pv_time();
	CHECK(t2 >= t1, 1, "TIME does not go backwards across two calls");

	CHECK(vmcall(HC_YIELD, 0, 0), 0, "YIELD returns 0");
	yield_preserving();
	static const u32 want[7] = { 0, 0x11111111, 0x22222222, 0x33333333, 0x44444444, 0x55555555, 0x66666666 };
	static const char *const names[7] = { "EAX (result)", "EBX", "ECX", "EDX", "ESI", "EDI", "EBP" };
	for (int i = 0; i < 7; i++) CHECK(saved_regs[i], want[i], "YIELD: %s after the call", names[i]);

	CHECK(vmcall(0x00010000u, 0, 0), PV_ENOSYS, "unknown hypercall 0x00010000: -1000");
	CHECK(vmcall(0x00010005u, 0, 0), PV_ENOSYS, "unknown hypercall 0x00010005: -1000");
	CHECK(vmcall(0xffffffffu, 0, 0), PV_ENOSYS, "unknown hypercall 0xffffffff: -1000");

	ring3_init();
	rt_flush();
	ring3_call(user_calls, (u32)(ustack + sizeof(ustack)));
	CHECK(u_write_ret, PV_EPERM, "CONSOLE_WRITE from ring 3: -1, nothing written");
	CHECK(u_exit_ret, PV_EPERM, "EXIT from ring 3: -1, the run goes on");
	CHECK(u_features_ret, PV_EPERM, "FEATURES from ring 3: -1");

	rt_finish("hypercall");   /* ends with the EXIT hypercall, status 0 */
}
