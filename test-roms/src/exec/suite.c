#define _GNU_SOURCE
/*
 * The x86jit exec test suite: one static i386 program, one test per first argument, each printing what it
 * sees so that its output under `x86jit exec` can be compared with qemu-i386's byte for byte. Nothing it
 * prints depends on addresses, times, pids or the host's files (file tests work in the directory given).
 *   suite hello [ARGS...]   argv, X86JIT_TEST_* variables, the auxiliary vector; exits with the last arg
 *   suite files DIR         create/write/read/seek/stat/rename/unlink/readdir/mkdir/rmdir/dup in DIR
 *   suite memory            brk/malloc of a few MB, mmap/munmap/mremap/mprotect
 *   suite segv | wprot | fpe | ill | nullcall   faults that kill the process
 *   suite clock             clock_gettime/gettimeofday/time/nanosleep (only relations are printed)
 *   suite errno DIR         error paths: missing files, bad fds, EEXIST, ENOTDIR, EFAULT, ENOSYS
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int hello(int argc, char **argv, char **envp) {
	printf("hello, world\n");
	printf("argc=%d\n", argc);
	for (int i = 0; i < argc; i++) printf("argv[%d]%s\n", i, i == 0 ? " (program)" : argv[i]);
	/* (sorted: qemu-i386 hands the environment over in reverse order, the kernel in order) */
	int n = 0, k = 0;
	char *mine[16];
	for (char **e = envp; *e; e++) {
		if (strncmp(*e, "X86JIT_TEST_", 12) == 0 && k < 16) mine[k++] = *e;
		n++;
	}
	qsort(mine, k, sizeof mine[0], cmpstr);
	for (int i = 0; i < k; i++) printf("env %s\n", mine[i]);
	printf("envp has entries: %s\n", n > 0 ? "yes" : "no");
	printf("getenv X86JIT_TEST_A=%s\n", getenv("X86JIT_TEST_A") ? getenv("X86JIT_TEST_A") : "(unset)");
	printf("AT_PAGESZ=%lu AT_PHENT=%lu AT_PHNUM>0=%d AT_ENTRY!=0=%d AT_RANDOM!=0=%d AT_SECURE=%lu\n", getauxval(AT_PAGESZ),
	       getauxval(AT_PHENT), getauxval(AT_PHNUM) > 0, getauxval(AT_ENTRY) != 0, getauxval(AT_RANDOM) != 0, getauxval(AT_SECURE));
	printf("AT_UID==getuid=%d AT_GID==getgid=%d\n", getauxval(AT_UID) == getuid(), getauxval(AT_GID) == getgid());
	const char *plat = (const char *)getauxval(AT_PLATFORM);
	printf("AT_PLATFORM=%s\n", plat ? plat : "(none)");
	const char *fn = (const char *)getauxval(AT_EXECFN);
	printf("AT_EXECFN==argv[0]=%d\n", fn && strcmp(fn, argv[0]) == 0);
	struct utsname u;
	if (uname(&u) == 0) printf("uname: %s %s\n", u.sysname, u.machine);
	printf("pid>0=%d ppid>0=%d tid==pid=%d\n", getpid() > 0, getppid() > 0, (int)syscall(SYS_gettid) == getpid());
	static __thread int tls = 42;
	tls++;
	printf("tls=%d\n", tls);
	fprintf(stderr, "to stderr\n");
	fflush(stdout);
	struct iovec iov[2] = {{"writev ", 7}, {"works\n", 6}};
	writev(1, iov, 2);
	return argc > 2 ? atoi(argv[argc - 1]) & 0xff : 0;
}

static int files(const char *dir) {
	if (chdir(dir) != 0) { perror("chdir"); return 1; }
	int fd = open("a.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	printf("open for writing: %s\n", fd >= 0 ? "ok" : strerror(errno));
	const char *text = "The quick brown fox jumps over the lazy dog\n";
	for (int i = 0; i < 100; i++) write(fd, text, strlen(text));
	close(fd);
	struct stat st;
	stat("a.txt", &st);
	printf("size=%lld regular=%d mode=%o\n", (long long)st.st_size, S_ISREG(st.st_mode), st.st_mode & 0777);
	FILE *f = fopen("a.txt", "r");
	char line[128];
	int lines = 0;
	while (fgets(line, sizeof line, f)) lines++;
	printf("lines=%d\n", lines);
	fseek(f, 4, SEEK_SET);
	fgets(line, 6, f);
	printf("at 4: '%s'\n", line);
	printf("ftell=%ld\n", ftell(f));
	fclose(f);
	fd = open("a.txt", O_RDWR);
	printf("lseek end=%ld\n", (long)lseek(fd, 0, SEEK_END));
	printf("lseek 10=%ld\n", (long)lseek(fd, 10, SEEK_SET));
	write(fd, "QUICK", 5);
	char buf[16] = {0};
	pread(fd, buf, 9, 4);
	printf("pread: '%s'\n", buf);
	pwrite(fd, "FOX", 3, 16);
	lseek(fd, 0, SEEK_SET);
	read(fd, buf, 15);
	buf[15] = 0;
	printf("read after pwrite: '%s'\n", buf);
	int fd2 = dup(fd);
	lseek(fd2, 0, SEEK_SET);
	printf("dup shares offset: %d\n", lseek(fd, 0, SEEK_CUR) == 0);
	int fd3 = fcntl(fd, F_DUPFD, 10);
	printf("F_DUPFD>=10: %d\n", fd3 >= 10);
	close(fd2); close(fd3);
	struct stat fst;
	fstat(fd, &fst);
	printf("fstat size=%lld\n", (long long)fst.st_size);
	close(fd);
	fd = open("b.txt", O_CREAT | O_WRONLY | O_APPEND, 0600);
	write(fd, "one\n", 4);
	close(fd);
	fd = open("b.txt", O_WRONLY | O_APPEND);
	write(fd, "two\n", 4);
	close(fd);
	stat("b.txt", &st);
	printf("append size=%lld mode=%o\n", (long long)st.st_size, st.st_mode & 0777);
	printf("rename: %d\n", rename("b.txt", "c.txt"));
	printf("access b=%d c=%d\n", access("b.txt", F_OK), access("c.txt", R_OK | W_OK));
	printf("mkdir: %d\n", mkdir("sub", 0755));
	fd = open("sub/inner", O_CREAT | O_WRONLY, 0644);
	close(fd);
	char *names[16];
	int n = 0;
	DIR *d = opendir(".");
	struct dirent *e;
	while ((e = readdir(d)) && n < 16) names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof names[0], cmpstr);
	for (int i = 0; i < n; i++) printf("entry %s\n", names[i]);
	char cwd[4096];
	printf("getcwd ends with dir: %d\n", getcwd(cwd, sizeof cwd) && strcmp(cwd, dir) == 0);
	printf("unlink inner: %d\n", unlink("sub/inner"));
	printf("rmdir: %d\n", rmdir("sub"));
	printf("unlink a: %d, c: %d\n", unlink("a.txt"), unlink("c.txt"));
	int at = open(".", O_RDONLY | O_DIRECTORY);
	int fa = openat(at, "d.txt", O_CREAT | O_WRONLY, 0644);
	write(fa, "x", 1);
	close(fa);
	printf("fstatat: %d\n", fstatat(at, "d.txt", &st, 0) == 0 && st.st_size == 1);
	printf("unlinkat: %d\n", unlinkat(at, "d.txt", 0));
	close(at);
	return 0;
}

static int memory(void) {
	char *p = malloc(3 << 20);
	memset(p, 0x5a, 3 << 20);
	long sum = 0;
	for (int i = 0; i < (3 << 20); i += 4096) sum += p[i];
	printf("malloc 3 MiB: sum=%ld\n", sum);
	free(p);
	void *b0 = sbrk(0);
	printf("sbrk grow: %d\n", sbrk(1 << 20) == b0);
	memset(b0, 1, 1 << 20);
	printf("sbrk shrink: %d\n", sbrk(-(1 << 20)) != (void *)-1);
	char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap: %s, zeroed: %d\n", m == MAP_FAILED ? "failed" : "ok", m[12345] == 0);
	for (int i = 0; i < (1 << 20); i++) m[i] = (char)i;
	m = mremap(m, 1 << 20, 2 << 20, MREMAP_MAYMOVE);
	printf("mremap: %s, kept: %d, tail zero: %d\n", m == MAP_FAILED ? "failed" : "ok", m[1000] == (char)1000, m[(2 << 20) - 1] == 0);
	printf("mprotect ro: %d\n", mprotect(m, 4096, PROT_READ));
	printf("read ro: %d\n", m[5]);
	printf("munmap: %d\n", munmap(m, 2 << 20));
	printf("munmap unaligned: %d %s\n", munmap((char *)m + 1, 4096), strerror(errno));
	void *big = mmap(NULL, 0xd0000000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("huge mmap fails: %d\n", big == MAP_FAILED);
	return 0;
}

static int clocks(void) {
	struct timespec a, b, r;
	clock_gettime(CLOCK_MONOTONIC, &a);
	struct timespec req = {0, 20 * 1000 * 1000};
	nanosleep(&req, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	printf("slept at least 20 ms: %d\n", ms >= 20);
	clock_gettime(CLOCK_REALTIME, &r);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	time_t t = time(NULL);
	printf("realtime after 2020: %d\n", r.tv_sec > 1577836800);
	printf("gettimeofday ~ time: %d\n", tv.tv_sec - t <= 1 && t - tv.tv_sec <= 1);
	printf("nsec in range: %d\n", r.tv_nsec >= 0 && r.tv_nsec < 1000000000);
	return 0;
}

static char tio_dummy[4];
#define TRY(label, expr) do { errno = 0; long r_ = (long)(expr); printf("%s: %ld %s\n", label, r_, strerror(errno)); } while (0)

static int errors(const char *dir) {
	if (chdir(dir) != 0) return 1;
	TRY("open missing", open("no/such/file", O_RDONLY));
	TRY("fopen missing", fopen("missing.txt", "r") != NULL);
	TRY("close bad fd", close(99));
	TRY("read bad fd", read(77, tio_dummy, 1));
	mkdir("d", 0755);
	TRY("mkdir again", mkdir("d", 0755));
	close(open("d/f", O_CREAT | O_WRONLY, 0644));
	TRY("open excl", open("d/f", O_CREAT | O_EXCL | O_WRONLY, 0644));
	TRY("open through file", open("d/f/x", O_RDONLY));
	TRY("rmdir non-empty", rmdir("d"));
	TRY("unlink dir", unlink("d"));
	TRY("chdir to file", chdir("d/f"));
	TRY("write bad pointer", syscall(SYS_write, 1, (void *)16, 10));
	TRY("read into bad pointer", syscall(SYS_read, 0, (void *)0xc0001000, 1));
	TRY("stat bad pointer", syscall(SYS_stat64, (void *)8, (void *)8));
	TRY("open bad path pointer", syscall(SYS_open, (void *)0xbfff0000 - 0x10000000, 0));
	TRY("unknown syscall", syscall(540));
	int fd = open("d/f", O_RDONLY);
	int tio[16];
	TRY("ioctl TCGETS on a file", ioctl(fd, 0x5401, tio));
	TRY("lseek bad whence", lseek(fd, 0, 42));
	TRY("write to read-only fd", write(fd, "x", 1));
	close(fd);
	unlink("d/f");
	rmdir("d");
	return 3;
}

int main(int argc, char **argv, char **envp) {
	const char *t = argc > 1 ? argv[1] : "hello";
	if (!strcmp(t, "hello")) return hello(argc, argv, envp);
	if (!strcmp(t, "files")) return files(argv[2]);
	if (!strcmp(t, "memory")) return memory();
	if (!strcmp(t, "clock")) return clocks();
	if (!strcmp(t, "errno")) return errors(argv[2]);
	printf("about to fault: %s\n", t);
	fflush(stdout);
	volatile int zero = 0;
	if (!strcmp(t, "segv")) return *(volatile int *)(0x10 + zero);
	if (!strcmp(t, "wprot")) {
		char *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ro[0] = 1;
		mprotect(ro, 4096, PROT_READ);
		printf("readable: %d\n", ro[zero]);
		fflush(stdout);
		ro[zero] = 2;
		return 0;
	}
	if (!strcmp(t, "fpe")) return 100 / zero;
	if (!strcmp(t, "ill")) { __asm__ volatile("ud2"); return 0; }
	if (!strcmp(t, "abort")) abort();
	return 99;
}
