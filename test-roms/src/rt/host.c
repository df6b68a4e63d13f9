/* HOST half of the runtime: the same test code as a static Linux i386 program (raw int 0x80 syscalls),
 * so the expectations can be confirmed on the real CPU. Output is buffered and written at exit. */
#include "rt.h"

static char outbuf[1 << 20];
static unsigned outlen;

static void sys_write(const char *p, unsigned n)
{
	int r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(4), "b"(1), "c"(p), "d"(n) : "memory");
}

void rt_putc(char c)
{
	if (outlen == sizeof(outbuf)) { sys_write(outbuf, outlen); outlen = 0; }
	outbuf[outlen++] = c;
}

void rt_exit(u32 status)
{
	sys_write(outbuf, outlen);
	__asm__ volatile("int $0x80" : : "a"(1), "b"(status));
	for (;;) ;
}

char **rt_host_argv;

/* The kernel's initial stack holds argc, then argv[0..argc-1] and a NULL: keep where argv starts, align
 * the stack for the C code, and run the test (which ends through rt_exit). */
__attribute__((used, noreturn)) static void host_main(void)
{
	test_main();
	rt_exit(0x7e);
}
__asm__(".text\n.globl _start\n_start:\n\tleal 4(%esp), %eax\n\tmovl %eax, rt_host_argv\n"
	"\tandl $-16, %esp\n\tcall host_main\n");

/* Exceptions arrive as signals; the i386 signal frame's mcontext gives the trap number and EIP.
 * rt_set_handler(0, h) (#DE) installs h for SIGFPE, vector 6 (#UD) for SIGILL. */
#define SIGILL 4
#define SIGFPE 8
#define SA_SIGINFO 0x4
#define SA_NODEFER 0x40000000
#define SA_RESTORER 0x04000000
struct mcontext { u32 gs, fs, es, ds, edi, esi, ebp, esp, ebx, edx, ecx, eax, trapno, err, eip, cs, efl, uesp, ss; };
struct ucontext { u32 uc_flags, uc_link, ss_sp, ss_flags, ss_size; struct mcontext mc; };
static rt_handler sig_handlers[32];

static void on_signal(int sig, void *info, struct ucontext *uc)
{
	struct mcontext *m = &uc->mc;
	struct frame f = { m->gs, m->fs, m->es, m->ds, m->edi, m->esi, m->ebp, m->esp, m->ebx, m->edx, m->ecx, m->eax,
			   m->trapno, m->err, m->eip, m->cs, m->efl };
	sig_handlers[sig](&f);
	m->eip = f.eip;
	m->eax = f.eax; m->ecx = f.ecx; m->edx = f.edx; m->ebx = f.ebx;
	m->esi = f.esi; m->edi = f.edi; m->ebp = f.ebp;
}

__asm__(".text\nsig_restorer:\n\tmovl $173, %eax\n\tint $0x80\n");   /* rt_sigreturn */
extern char sig_restorer[];

void rt_set_handler(int vector, rt_handler h)
{
	int sig = vector == 0 ? SIGFPE : vector == 6 ? SIGILL : 0;
	if (!sig) return;
	sig_handlers[sig] = h;
	struct { void *handler; u32 flags; void *restorer; u32 mask[2]; } act = {
		(void *)on_signal, SA_SIGINFO | SA_NODEFER | SA_RESTORER, sig_restorer, { 0, 0 } };
	int r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(174), "b"(sig), "c"(&act), "d"(0), "S"(8) : "memory");
}
