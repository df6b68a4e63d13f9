/* x86jit paravirtual interface (KVM's x86 hypercall convention): VMCALL (0F 01 C1) with the number in
 * EAX, arguments in EBX, ECX, EDX, ESI, result in EAX (TIME: high half in EDX); all other registers
 * are preserved. Detection: CPUID 0x40000000 -> EAX = max hypervisor leaf, EBX:ECX:EDX = "x86jitx86jit";
 * CPUID 0x40000001 EAX = the FEATURES bitmap. */
#ifndef PV_H
#define PV_H
#include "rt.h"

#define HC_FEATURES      0x00000003u
#define HC_CONSOLE_WRITE 0x00010001u   /* EBX = guest-physical buffer, ECX = length -> bytes or -EFAULT */
#define HC_EXIT          0x00010002u   /* EBX = status; the run ends with status (status << 1) | 1 */
#define HC_TIME          0x00010003u   /* -> virtual time in ns, EDX:EAX */
#define HC_YIELD         0x00010004u   /* -> 0 */

#define PV_FEAT_CONSOLE 0x1u
#define PV_FEAT_EXIT    0x2u
#define PV_FEAT_TIME    0x4u
#define PV_FEAT_YIELD   0x8u

#define PV_EFAULT  ((u32)-14)
#define PV_EPERM   ((u32)-1)      /* VMCALL from CPL > 0 */
#define PV_ENOSYS  ((u32)-1000)   /* unknown hypercall number */

#define PV_CPUID_BASE 0x40000000u

static inline u32 vmcall4(u32 nr, u32 a, u32 b, u32 c, u32 d)
{
	u32 r;
	__asm__ volatile(".byte 0x0f, 0x01, 0xc1" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d) : "memory");
	return r;
}
#define vmcall(nr, a, b) vmcall4((nr), (a), (b), 0, 0)

static inline u64 pv_time(void)
{
	u32 lo, hi;
	__asm__ volatile(".byte 0x0f, 0x01, 0xc1" : "=a"(lo), "=d"(hi) : "a"(HC_TIME) : "memory");
	return ((u64)hi << 32) | lo;
}

static inline void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
#ifdef PV_EMULATE
	/* ./build.sh --pv-check: QEMU has no x86jit leaves; answer them the way the ABI says */
	if (leaf == PV_CPUID_BASE || leaf == PV_CPUID_BASE + 1) {
		*a = leaf == PV_CPUID_BASE ? PV_CPUID_BASE + 1 : 0xf;
		*b = leaf == PV_CPUID_BASE ? 0x6a363878u : 0;
		*c = leaf == PV_CPUID_BASE ? 0x38787469u : 0;
		*d = leaf == PV_CPUID_BASE ? 0x74696a36u : 0;
		return;
	}
#endif
	u32 ra = leaf, rb = 0, rc = 0, rd = 0;   /* zeros stay if a #UD handler skips the instruction */
	__asm__ volatile("cpuid" : "+a"(ra), "+b"(rb), "+c"(rc), "+d"(rd));
	*a = ra; *b = rb; *c = rc; *d = rd;
}

/* 1 if CPUID exists and leaf 0x40000000 carries the x86jit signature (max leaf returned in *max). */
int pv_detect(u32 *max);
/* 1 when rt_putc/rt_exit go through hypercalls (rt-pv.c found the hypervisor), 0 when they fell back
 * to the UART and port 0xF4 (so the ROM can still report "not detected" under QEMU). */
extern int rt_pv;
/* Sends buffered console output (rt_putc buffers up to a line). */
void rt_flush(void);
#endif
