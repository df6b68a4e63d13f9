/* x86jit exec test program: signals, pipes, poll/select, fork/exec/wait. Each subcommand prints what it
 * sees; tests/exec.test.ts compares the output and exit status with qemu-i386's. Output never depends on
 * pids, addresses or timing. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

extern char **environ;
static volatile sig_atomic_t hits, last_sig, last_code, depth, max_depth, calls;
static volatile int info_ok;
static sigjmp_buf jump;
static void *expected_addr;

static void plain_handler(int sig) { hits++; last_sig = sig; }

static void info_handler(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  hits++; last_sig = sig; last_code = si->si_code;
  info_ok = si->si_signo == sig && (si->si_code != SI_USER || si->si_pid == getpid());
}

/* Raises its own signal again (three calls in all): nested with SA_NODEFER, one after another without. */
static void nested_handler(int sig) {
  depth++;
  if (depth > max_depth) max_depth = depth;
  if (++calls < 3) raise(sig);
  depth--;
}

static void fault_handler(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  last_sig = sig; last_code = si->si_code;
  info_ok = expected_addr == NULL || si->si_addr == expected_addr;
  siglongjmp(jump, 1);
}

/* SIGILL from ud2: skip the 2-byte instruction by editing the saved EIP; sigreturn resumes after it. */
static void skip_handler(int sig, siginfo_t *si, void *ucv) {
  ucontext_t *uc = ucv;
  last_sig = sig; last_code = si->si_code;
  uc->uc_mcontext.gregs[REG_EIP] += 2;
}

static void trap_handler(int sig) { last_sig = sig; hits++; }

static int install(int sig, void (*h)(int), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = h;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  return sigaction(sig, &sa, NULL);
}

static int install_info(int sig, void (*h)(int, siginfo_t *, void *), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = h;
  sa.sa_flags = flags | SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  return sigaction(sig, &sa, NULL);
}

static int signals(void) {
  /* A plain handler (the old sigframe) and a SA_SIGINFO one (the rt_sigframe). */
  install(SIGUSR1, plain_handler, 0);
  raise(SIGUSR1);
  printf("plain handler: hits=%d sig=%d\n", hits, last_sig);
  install_info(SIGUSR2, info_handler, 0);
  kill(getpid(), SIGUSR2);
  printf("siginfo handler: hits=%d sig=%d code=%d info_ok=%d\n", hits, last_sig, last_code, info_ok);
  /* Registers and the x87 survive a handler. */
  volatile double x = 1.5;
  double y = x * 3.0;
  raise(SIGUSR1);
  printf("x87 across a handler: %.2f\n", y + x);
  /* Blocked: pending until unblocked, then delivered. */
  sigset_t set, old, pend;
  sigemptyset(&set); sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, &old);
  hits = 0;
  raise(SIGUSR1);
  sigpending(&pend);
  printf("blocked: hits=%d pending=%d\n", hits, sigismember(&pend, SIGUSR1));
  sigprocmask(SIG_SETMASK, &old, NULL);
  printf("unblocked: hits=%d\n", hits);
  /* The handler runs with its signal blocked; SA_NODEFER lets it nest. */
  install(SIGUSR1, nested_handler, 0);
  depth = max_depth = calls = 0;
  raise(SIGUSR1);
  printf("nested without SA_NODEFER: max depth %d, calls %d\n", max_depth, calls);
  install(SIGUSR1, nested_handler, SA_NODEFER);
  depth = max_depth = calls = 0;
  raise(SIGUSR1);
  printf("nested with SA_NODEFER: max depth %d, calls %d\n", max_depth, calls);
  /* SA_RESETHAND: the second time it is the default action (checked through sigaction). */
  install(SIGUSR2, plain_handler, SA_RESETHAND);
  raise(SIGUSR2);
  struct sigaction now;
  sigaction(SIGUSR2, NULL, &now);
  printf("SA_RESETHAND: back to default %d\n", now.sa_handler == SIG_DFL);
  /* Ignored. */
  signal(SIGUSR2, SIG_IGN);
  raise(SIGUSR2);
  printf("ignored: still here\n");
  /* Faults to handlers: SIGSEGV (unmapped, read-only), SIGFPE, SIGILL (EIP edited), SIGTRAP. */
  install_info(SIGSEGV, fault_handler, 0);
  expected_addr = (void *)16;
  static volatile int *volatile null_page = (int *)16;
  if (sigsetjmp(jump, 1) == 0) { *null_page = 1; puts("no fault?"); }
  printf("null store: sig=%d code=%d addr_ok=%d\n", last_sig, last_code, info_ok);
  char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  expected_addr = ro + 8;
  if (sigsetjmp(jump, 1) == 0) { ro[8] = 1; puts("no fault?"); }
  printf("read-only store: sig=%d code=%d addr_ok=%d\n", last_sig, last_code, info_ok);
  /* The mask saved by sigsetjmp(…, 1) is back: SIGSEGV is deliverable again. */
  if (sigsetjmp(jump, 1) == 0) { ro[9] = 1; puts("no fault?"); }
  printf("again: sig=%d code=%d\n", last_sig, last_code);
  install_info(SIGFPE, fault_handler, 0);
  expected_addr = NULL;
  volatile int zero = 0;
  if (sigsetjmp(jump, 1) == 0) { printf("%d\n", 7 / zero); }
  printf("divide error: sig=%d code=%d\n", last_sig, last_code);
  install_info(SIGILL, skip_handler, 0);
  __asm__ volatile("ud2");
  printf("ud2 skipped: sig=%d code=%d\n", last_sig, last_code);
  install(SIGTRAP, trap_handler, 0);
  hits = 0;
  __asm__ volatile("int3");
  printf("int3: sig=%d hits=%d\n", last_sig, hits);
  /* sigsuspend and alarm: SIGALRM wakes it. */
  install(SIGALRM, plain_handler, 0);
  sigprocmask(SIG_BLOCK, &set, &old);
  hits = 0;
  alarm(1);
  sigset_t wait_mask;
  sigemptyset(&wait_mask);
  int r = sigsuspend(&wait_mask);
  printf("sigsuspend: r=%d errno=%s sig=%d\n", r, strerror(errno), last_sig);
  return 0;
}

static int pipes(void) {
  int fd[2];
  char buf[64];
  if (pipe(fd) != 0) { perror("pipe"); return 1; }
  write(fd[1], "hello, pipe", 11);
  ssize_t n = read(fd[0], buf, sizeof buf);
  printf("read %zd: %.*s\n", n, (int)n, buf);
  struct stat st;
  fstat(fd[0], &st);
  printf("fstat: fifo=%d\n", S_ISFIFO(st.st_mode));
  printf("lseek: %ld %s\n", (long)lseek(fd[0], 0, SEEK_SET), strerror(errno));
  /* poll: nothing yet (timeout 0), then readable, then POLLHUP once the writer is gone. */
  struct pollfd p = { fd[0], POLLIN, 0 };
  printf("poll empty: %d\n", poll(&p, 1, 0));
  write(fd[1], "x", 1);
  printf("poll data: %d revents=%#x\n", poll(&p, 1, 100), p.revents);
  struct pollfd w = { fd[1], POLLOUT, 0 };
  printf("poll writable: %d revents=%#x\n", poll(&w, 1, 0), w.revents);
  fd_set rd;
  FD_ZERO(&rd); FD_SET(fd[0], &rd);
  struct timeval tv = { 0, 0 };
  printf("select: %d isset=%d\n", select(fd[0] + 1, &rd, NULL, NULL, &tv), FD_ISSET(fd[0], &rd));
  read(fd[0], buf, 1);
  FD_ZERO(&rd); FD_SET(fd[0], &rd);
  tv.tv_usec = 1000;
  printf("select timeout: %d\n", select(fd[0] + 1, &rd, NULL, NULL, &tv));
  close(fd[1]);
  printf("poll after close: %d revents=%#x\n", poll(&p, 1, 100), p.revents);
  printf("read at EOF: %zd\n", read(fd[0], buf, sizeof buf));
  close(fd[0]);
  /* O_NONBLOCK: EAGAIN on an empty pipe with a writer. */
  pipe2(fd, O_NONBLOCK | O_CLOEXEC);
  printf("nonblocking read: %zd %s\n", read(fd[0], buf, 1), strerror(errno));
  printf("cloexec: %d\n", fcntl(fd[0], F_GETFD) & FD_CLOEXEC);
  /* A full pipe: a nonblocking writer stops short at 64 KiB. */
  static char big[100000];
  ssize_t total = 0, k;
  while ((k = write(fd[1], big, sizeof big)) > 0) total += k;
  printf("filled: %zd then %s\n", total, strerror(errno));
  close(fd[0]); close(fd[1]);
  /* dup2 onto stdin: stdio reads the pipe. */
  pipe(fd);
  write(fd[1], "line one\nline two\n", 18);
  close(fd[1]);
  dup2(fd[0], 0);
  close(fd[0]);
  while (fgets(buf, sizeof buf, stdin)) printf("stdin: %s", buf);
  /* SIGPIPE ignored: EPIPE. */
  signal(SIGPIPE, SIG_IGN);
  pipe(fd);
  close(fd[0]);
  printf("write without reader: %zd %s\n", write(fd[1], "x", 1), strerror(errno));
  return 0;
}

static int sigpipe(void) {
  int fd[2];
  pipe(fd);
  close(fd[0]);
  printf("writing to a pipe without a reader\n");
  fflush(stdout);
  write(fd[1], "x", 1);
  printf("not reached\n");
  return 0;
}

static int procs(const char *self) {
  int fd[2], status;
  char buf[64];
  /* fork: the child writes into a pipe and exits 3; the parent reads until EOF and waits. */
  pipe(fd);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    char msg[64];
    int n = snprintf(msg, sizeof msg, "from the child, parent ok=%d", getppid() != getpid());
    write(fd[1], msg, n);
    _exit(3);
  }
  close(fd[1]);
  ssize_t n, total = 0;
  while ((n = read(fd[0], buf + total, sizeof buf - 1 - total)) > 0) total += n;
  buf[total] = 0;
  close(fd[0]);
  printf("parent read: %s\n", buf);
  pid_t w = waitpid(pid, &status, 0);
  printf("waitpid: same pid=%d exited=%d status=%d\n", w == pid, WIFEXITED(status), WEXITSTATUS(status));
  printf("no more children: %d %s\n", waitpid(-1, &status, 0), strerror(errno));
  /* Memory is copied, not shared. */
  static int shared = 1;
  fflush(stdout);
  if ((pid = fork()) == 0) { shared = 42; _exit(shared); }
  wait(&status);
  printf("copy on fork: parent sees %d, child exited %d\n", shared, WEXITSTATUS(status));
  /* A child killed by a signal. */
  fflush(stdout);
  if ((pid = fork()) == 0) { raise(SIGTERM); _exit(0); }
  waitpid(pid, &status, 0);
  printf("killed child: signaled=%d sig=%d\n", WIFSIGNALED(status), WTERMSIG(status));
  /* A child's fault: it dies of SIGSEGV (and says so on stderr, as qemu-i386's child does). */
  fflush(stdout);
  if ((pid = fork()) == 0) { static volatile int *volatile nowhere = 0; *nowhere = 1; _exit(0); }
  waitpid(pid, &status, 0);
  printf("faulting child: signaled=%d sig=%d\n", WIFSIGNALED(status), WTERMSIG(status));
  /* SIGCHLD reaches a handler. */
  install(SIGCHLD, plain_handler, SA_RESTART);
  hits = 0;
  fflush(stdout);
  if ((pid = fork()) == 0) _exit(0);
  waitpid(pid, &status, 0);
  printf("SIGCHLD: hits=%d sig=%d\n", hits, last_sig);
  signal(SIGCHLD, SIG_DFL);
  /* A pipeline of two children: a writer of 200 KiB (more than the pipe holds) and a counting reader. */
  pipe(fd);
  fflush(stdout);
  pid_t a = fork();
  if (a == 0) {
    close(fd[0]);
    static char chunk[10000];
    memset(chunk, 'z', sizeof chunk);
    for (int i = 0; i < 20; i++) write(fd[1], chunk, sizeof chunk);
    _exit(0);
  }
  int back[2];
  pipe(back);
  pid_t b = fork();
  if (b == 0) {
    close(fd[1]); close(back[0]);
    long count = 0;
    while ((n = read(fd[0], buf, sizeof buf)) > 0) count += n;
    dprintf(back[1], "%ld", count);
    _exit(0);
  }
  close(fd[0]); close(fd[1]); close(back[1]);
  total = read(back[0], buf, sizeof buf - 1);
  buf[total > 0 ? total : 0] = 0;
  waitpid(a, &status, 0);
  waitpid(b, &status, 0);
  printf("pipeline moved %s bytes\n", buf);
  return 0;
}

/* execve (of this program: qemu-i386 passes execve to the host kernel, which cannot run it here, so
 * tests/exec.test.ts checks this case's output itself). */
static int execs(const char *self) {
  int fd[2], status;
  char buf[64];
  ssize_t n, total;
  pid_t pid;
  /* vfork + execve of this program: it prints and exits 5. */
  fflush(stdout);
  if ((pid = vfork()) == 0) {
    execl(self, self, "child", "vfork", (char *)0);
    _exit(127);
  }
  waitpid(pid, &status, 0);
  printf("vfork+exec: status=%d\n", WEXITSTATUS(status));
  /* posix_spawn (clone with CLONE_VM|CLONE_VFORK), its stdout into a pipe. */
  pipe(fd);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
  posix_spawn_file_actions_addclose(&fa, fd[0]);
  char *argv[] = { (char *)self, "child", "spawn", NULL };
  int rc = posix_spawn(&pid, self, &fa, NULL, argv, environ);
  close(fd[1]);
  total = 0;
  while ((n = read(fd[0], buf + total, sizeof buf - 1 - total)) > 0) total += n;
  buf[total] = 0;
  waitpid(pid, &status, 0);
  printf("posix_spawn: rc=%d output=%s status=%d\n", rc, buf, WEXITSTATUS(status));
  /* execve of a missing file fails in the child. */
  fflush(stdout);
  if ((pid = fork()) == 0) {
    execl("/nonexistent/x86jit-test", "x", (char *)0);
    printf("execl failed: %s\n", strerror(errno));
    fflush(stdout);
    _exit(127);
  }
  waitpid(pid, &status, 0);
  printf("exit status %d\n", WEXITSTATUS(status));
  return 0;
}

/* Fork until the process limit stops it (x86jit's --max-processes): children wait on a pipe. */
static int forkbomb(void) {
  int fd[2], n = 0;
  pipe(fd);
  for (;;) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) { printf("forked %d children, then: %s\n", n, strerror(errno)); break; }
    if (pid == 0) { char c; close(fd[1]); read(fd[0], &c, 1); _exit(0); }
    if (++n > 1000) { printf("no limit\n"); break; }
  }
  close(fd[1]);
  int status, reaped = 0;
  while (wait(&status) > 0) reaped++;
  printf("reaped %d\n", reaped);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  if (!strcmp(argv[1], "signals")) return signals();
  if (!strcmp(argv[1], "pipes")) return pipes();
  if (!strcmp(argv[1], "sigpipe")) return sigpipe();
  if (!strcmp(argv[1], "procs")) return procs(argv[0]);
  if (!strcmp(argv[1], "forkbomb")) return forkbomb();
  if (!strcmp(argv[1], "exec")) return execs(argv[0]);
  if (!strcmp(argv[1], "sigterm")) { printf("raising SIGTERM\n"); fflush(stdout); raise(SIGTERM); return 0; }
  if (!strcmp(argv[1], "child")) { printf("child %s", argc > 2 ? argv[2] : "?"); return 5; }
  return 2;
}
