#define _GNU_SOURCE
#include <sched.h>
#include <unistd.h>
#include <spawn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <pthread.h>
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
