#define _GNU_SOURCE
#include <sched.h>
#include <unistd.h>
#include <spawn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <pthread.h>
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "include/CNetlink.h"

extern char **environ;

int cnl_setns(int fd, int nstype) { return setns(fd, nstype); }
int cnl_unshare(int flags) { return unshare(flags); }
char *const *cnl_environ(void) { return environ; }
int cnl_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
int cnl_ioctl_ptr(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }
int cnl_ioctl_int(int fd, unsigned long request, unsigned long arg) { return ioctl(fd, request, arg); }
int cnl_accept_cloexec(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC); }
int cnl_open_tmpfile(const char *dir, unsigned int mode) { return open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, (mode_t)mode); }
int cnl_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }
int cnl_gettid(void) { return (int)syscall(SYS_gettid); }

int cnl_spawn(int *pid, const char *path, char *const argv[], char *const envp[],
              int stdin_fd, int stdout_fd, int stderr_fd, int new_pgroup) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc) { posix_spawn_file_actions_destroy(&fa); return rc; }
    int fds[3] = {stdin_fd, stdout_fd, stderr_fd};
    for (int i = 0; i < 3; i++) {
        if (fds[i] >= 0) posix_spawn_file_actions_adddup2(&fa, fds[i], i);
        else posix_spawn_file_actions_addopen(&fa, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
    }
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
    /* Only stdin, stdout and stderr reach the child, whatever else lacks close-on-exec. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    if (new_pgroup) { flags |= POSIX_SPAWN_SETPGROUP; posix_spawnattr_setpgroup(&attr, 0); }
    posix_spawnattr_setflags(&attr, flags);
    rc = posix_spawnp(pid, path, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

int cnl_memfd(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

const char *cnl_errno_name(int e) {
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 32)
    return strerrorname_np(e);
#else
    (void)e;
    return NULL;
#endif
}

int cnl_fsmount_proc(void) {
#if defined(SYS_fsopen) && defined(SYS_fsconfig) && defined(SYS_fsmount)
    /* The constants of <linux/mount.h>, which clashes with glibc's <sys/mount.h>. */
    const unsigned int fsopen_cloexec = 1, fsmount_cloexec = 1, cmd_create = 6;
    const unsigned int attr_nosuid = 0x2, attr_nodev = 0x4, attr_noexec = 0x8;
    int fs = (int)syscall(SYS_fsopen, "proc", fsopen_cloexec);
    if (fs < 0) return -1;
    if (syscall(SYS_fsconfig, fs, cmd_create, NULL, NULL, 0) != 0) { int e = errno; close(fs); errno = e; return -1; }
    int m = (int)syscall(SYS_fsmount, fs, fsmount_cloexec, attr_nosuid | attr_nodev | attr_noexec);
    int e = errno;
    close(fs);
    errno = e;
    return m;
#else
    errno = ENOSYS;
    return -1;
#endif
}

static int spawn_tethered(int *pid, const char *path, char *const argv[], char *const envp[],
                          int stdin_fd, int stdout_fd, int stderr_fd, int new_pgroup);

int cnl_spawn_tethered(int *pid, const char *path, char *const argv[], char *const envp[],
                       int stdout_fd, int stderr_fd) {
    return spawn_tethered(pid, path, argv, envp, -1, stdout_fd, stderr_fd, 1);
}

int cnl_spawn_tethered_attached(int *pid, const char *path, char *const argv[], char *const envp[], int stdin_fd) {
    return spawn_tethered(pid, path, argv, envp, stdin_fd, 1, 2, 0);
}

static int spawn_tethered(int *pid, const char *path, char *const argv[], char *const envp[],
                          int stdin_fd, int stdout_fd, int stderr_fd, int new_pgroup) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) {
        int e = errno;
        close(report[0]); close(report[1]);
        return e;
    }
    if (child == 0) {
        int e = 0;
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int s = 1; s < 65; s++) {
            if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, NULL);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (new_pgroup && setpgid(0, 0) != 0) { e = errno; goto fail; }
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) { e = errno; goto fail; }
        if (getppid() != parent) _exit(127); /* the parent is already gone */
        int in = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (in < 0) { e = errno; goto fail; }
        if ((in != 0 && dup2(in, 0) < 0) || (stdout_fd != 1 && dup2(stdout_fd, 1) < 0)
            || (stderr_fd != 2 && dup2(stderr_fd, 2) < 0)) { e = errno; goto fail; }
        /* Nothing else of ours may reach the command (a pipe's write end it held would keep a
           reader waiting for its end): every other descriptor closes at exec, the report pipe
           included. Before 5.11 (no CLOSE_RANGE_CLOEXEC) this fails and the descriptors'
           own close-on-exec flags are all there is. */
        (void)syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
        execve(path, argv, envp);
        e = errno;
    fail:
        (void)!write(report[1], &e, sizeof e);
        _exit(127);
    }
    close(report[1]);
    int e = 0;
    ssize_t n;
    do { n = read(report[0], &e, sizeof e); } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof e) {
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
        return e ? e : EIO;
    }
    *pid = child;
    return 0;
}
