// CNetlink: the kernel headers the kernel edge needs, out-of-line wrappers for
// what Swift cannot import (setns, unshare, environ, pipe2, ioctl, ...), and the
// spawns whose steps between fork and exec must stay async-signal-safe, which
// Swift code cannot promise (cnl_spawn_tethered*: fork, reset signals, set the
// parent-death signal, dup the descriptors, exec, report exec's errno).
// Only the kernel edge imports it: the Namespaces and Probes targets.
//
// Rules: no _GNU_SOURCE in this header (once CDispatch or libcap is imported
// too, fd_set gets two different definitions); shim.c defines it for itself.
// <netinet/in.h> comes before any linux uapi header (else struct in6_addr is
// defined twice).
#ifndef CNETLINK_H
#define CNETLINK_H

#include <netinet/in.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <stdint.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/veth.h>
#include <linux/if_bridge.h>
#include <linux/if_tunnel.h>
#include <linux/neighbour.h>
#include <linux/fib_rules.h>
#include <linux/if_packet.h>
#include <linux/sched.h>

/// setns(2). Returns -1 and sets errno on failure.
int cnl_setns(int fd, int nstype);
/// unshare(2). Returns -1 and sets errno on failure.
int cnl_unshare(int flags);
/// The process environment (environ), for posix_spawn.
char *const *cnl_environ(void);
/// pipe2(2) with O_CLOEXEC.
int cnl_pipe_cloexec(int fds[2]);
/// ioctl(2) with a pointer argument.
int cnl_ioctl_ptr(int fd, unsigned long request, void *arg);
/// ioctl(2) with an integer argument.
int cnl_ioctl_int(int fd, unsigned long request, unsigned long arg);
/// accept4(2) with SOCK_CLOEXEC.
int cnl_accept_cloexec(int fd);
/// open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode): an unnamed file in `dir`, to be linked in later.
int cnl_open_tmpfile(const char *dir, unsigned int mode);
/// Names the calling thread (15 bytes at most), as pthread_setname_np does.
int cnl_set_thread_name(const char *name);
/// gettid(2).
int cnl_gettid(void);
/// posix_spawn with stdin/stdout/stderr redirected to the given fds (-1: /dev/null)
/// and optionally a new process group. Returns 0 or an errno value.
int cnl_spawn(int *pid, const char *path, char *const argv[], char *const envp[],
              int stdin_fd, int stdout_fd, int stderr_fd, int new_pgroup);
/// Starts `path` (an absolute path: no PATH search) in a process group of its own, with
/// stdin from /dev/null and stdout/stderr to the given fds, default signal dispositions and
/// an empty signal mask, and PR_SET_PDEATHSIG(SIGKILL): the kernel kills it when the calling
/// thread ends (call it from a thread that lives as long as the process). Only
/// async-signal-safe calls between fork and exec. Returns 0 or the errno of the failure
/// (the exec's too, reported through a close-on-exec pipe).
int cnl_spawn_tethered(int *pid, const char *path, char *const argv[], char *const envp[],
                       int stdout_fd, int stderr_fd);
/// As cnl_spawn_tethered, but in the caller's process group (a terminal's Ctrl-C reaches it),
/// with the caller's stdout and stderr, and stdin from `stdin_fd` (-1: /dev/null).
int cnl_spawn_tethered_attached(int *pid, const char *path, char *const argv[], char *const envp[], int stdin_fd);
/// memfd_create(name, MFD_CLOEXEC).
int cnl_memfd(const char *name);
/// A new, detached proc mount (fsopen("proc", FSOPEN_CLOEXEC), fsconfig(FSCONFIG_CMD_CREATE),
/// fsmount(FSMOUNT_CLOEXEC, nosuid|nodev|noexec)), attached nowhere. Returns its descriptor,
/// or -1 with errno set (ENOSYS before Linux 5.2 or where a filter refuses the calls).
int cnl_fsmount_proc(void);
/// The symbolic name of errno value `e` (`EEXIST`), as strerrorname_np(3) gives it; NULL
/// when the C library has none.
const char *cnl_errno_name(int e);

#endif
