#!/usr/bin/env bash
# CI: nslab in containers as Docker and Podman start them by default (issue 14), emulated with
# bubblewrap, since no container engine or image registry is available here.
#
#   .ci/containers.sh PATH-TO-NSLAB
#
# Every variant has a read-only root, tmpfs /run and /tmp, a fresh /proc and a minimal /dev
# (no /dev/net/tun), its own PID, IPC, UTS and network namespaces (loopback up), runs as uid 0, and has exactly Docker's
# 14 default capabilities (effective, permitted and bounding set) plus the ones it names:
#
#   docker+caps       --cap-add NET_ADMIN --cap-add SYS_ADMIN, /proc/sys read-only (Docker's
#                     default): `nslab test` must pass (sysctls through a private proc)
#   userns+caps       the same in a user namespace of the container's own (rootless Podman's
#                     shape): `nslab test` must pass
#   rootless          no added capabilities, /proc/sys writable (--security-opt
#                     systempaths=unconfined): nslab goes rootless; `nslab test` must pass
#   doctor cases      read-only /proc/sys rootless, a seccomp filter refusing unshare (like
#                     Docker's default profile without SYS_ADMIN), a read-only /run: doctor must
#                     name the cause and the fix
#
# Installs what it needs (bubblewrap, libcap2-bin for capsh, iproute2) if missing. Leaves nothing
# behind: each container has its own network, mount and PID namespaces, which die with it; the
# temporary directory is removed; the host is checked for the labs' names and the mounts. Exits non-zero, saying what
# failed, on any failure. NSLAB_CONTAINERS_VERBOSE=1 prints every output.
set -euo pipefail

die() { echo "containers.sh: FAIL: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 PATH-TO-NSLAB"
nslab_bin=$1
[ -x "$nslab_bin" ] || die "$nslab_bin is not an executable"
[ "$(id -u)" = 0 ] || die "must run as root (bubblewrap emulates a root container)"

missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v capsh >/dev/null 2>&1 || missing+=(libcap2-bin)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

tmp=$(mktemp -d /tmp/nslab-containers.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
cp "$nslab_bin" "$tmp/bin/nslab"
# The catalogue travels with the binary (the source tree may be hidden in a container, e.g. under its /tmp).
cp -r "$(dirname "$nslab_bin")/NetnsKit_Scenarios.resources" "$tmp/bin/"
chmod 755 "$tmp" "$tmp/bin" "$tmp/bin/nslab"

ip netns list | grep -q '^ci-' && die "the host already has namespaces named ci-*, which the checks below use"

# Docker's default capabilities (moby's DefaultCapabilities).
docker_caps=(CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP
             NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE)

# A seccomp filter (classic BPF, x86_64) that refuses unshare, setns, mount, fsopen and fsmount
# with EPERM, as Docker's default profile does for a process without CAP_SYS_ADMIN (Docker's lets an
# unshare of a user namespace alone through; nslab's asks for a network namespace too).
seccomp_filter() {
  local ins=(
    # code jt jf k
    "0x20 0 0 4"            # ld  seccomp_data.arch
    "0x15 1 0 0xc000003e"   # jeq AUDIT_ARCH_X86_64, skip 1
    "0x06 0 0 0x7fff0000"   # ret ALLOW (other architectures)
    "0x20 0 0 0"            # ld  seccomp_data.nr
    "0x15 5 0 272"          # jeq unshare -> deny
    "0x15 4 0 308"          # jeq setns   -> deny
    "0x15 3 0 165"          # jeq mount   -> deny
    "0x15 2 0 430"          # jeq fsopen  -> deny
    "0x15 1 0 432"          # jeq fsmount -> deny
    "0x06 0 0 0x7fff0000"   # ret ALLOW
    "0x06 0 0 0x00050001"   # ret ERRNO(EPERM)
  )
  local i code jt jf k
  for i in "${ins[@]}"; do
    read -r code jt jf k <<<"$i"
    printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x' \
      $((code & 255)) $((code >> 8)) "$jt" "$jf" \
      $((k & 255)) $(((k >> 8) & 255)) $(((k >> 16) & 255)) $(((k >> 24) & 255)))"
  done
}
[ "$(uname -m)" = x86_64 ] || die "the seccomp filter is written for x86_64, not $(uname -m)"
seccomp_filter >"$tmp/seccomp.bpf"
[ "$(stat -c %s "$tmp/seccomp.bpf")" = 88 ] || die "the seccomp filter has the wrong size"

# container NAME [--caps "CAP …"] [--ro-proc-sys] [--ro-run] [--seccomp] [--userns] -- COMMAND…
# (--userns: the container gets a user namespace of its own, as rootless Podman gives it.)
# Runs COMMAND (nslab is /tmp/.nslab/nslab) in the emulated container; output to $tmp/NAME.out.
container() {
  local name=$1; shift
  local caps=("${docker_caps[@]}") ro_proc_sys=0 ro_run=0 seccomp=0 userns=0
  while [ "$1" != -- ]; do
    case $1 in
      --userns) userns=1; shift ;;
      --caps) read -r -a extra <<<"$2"; caps+=("${extra[@]}"); shift 2 ;;
      --ro-proc-sys) ro_proc_sys=1; shift ;;
      --ro-run) ro_run=1; shift ;;
      --seccomp) seccomp=1; shift ;;
      *) die "container: unknown option $1" ;;
    esac
  done
  shift
  local args=(--ro-bind / / --proc /proc --dev /dev --tmpfs /tmp --tmpfs /run
              --ro-bind "$tmp/bin" /tmp/.nslab
              --unshare-pid --unshare-ipc --unshare-uts --unshare-net --die-with-parent --new-session
              --setenv PATH /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
              --cap-drop ALL)
  [ $userns = 1 ] && args+=(--unshare-user --uid 0 --gid 0)
  [ $ro_proc_sys = 1 ] && args+=(--ro-bind /proc/sys /proc/sys)
  [ $ro_run = 1 ] && args+=(--remount-ro /run)
  local c keep=() drop=()
  for c in "${caps[@]}"; do args+=(--cap-add "CAP_$c"); keep+=("cap_${c,,}"); done
  # capsh inside the container lowers the bounding set to the same capabilities.
  for c in $(capsh --decode="$(printf '0x%x' $(( (1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1 )))" | sed 's/.*=//; s/,/ /g'); do
    [[ " ${keep[*]} " == *" $c "* ]] || drop+=("$c")
  done
  local dropped; dropped=$(IFS=,; echo "${drop[*]}")
  local status=0
  if [ $seccomp = 1 ]; then
    bwrap "${args[@]}" --seccomp 9 capsh --drop="$dropped" -- -c 'exec "$@"' sh "$@" \
      9<"$tmp/seccomp.bpf" >"$tmp/$name.out" 2>&1 || status=$?
  else
    bwrap "${args[@]}" capsh --drop="$dropped" -- -c 'exec "$@"' sh "$@" >"$tmp/$name.out" 2>&1 || status=$?
  fi
  return $status
}

show() { [ "${NSLAB_CONTAINERS_VERBOSE:-0}" = 1 ] && sed "s/^/   $1| /" "$tmp/$1.out"; return 0; }

expect_in() {  # NAME TEXT: the output of NAME contains TEXT
  show "$1"
  grep -qF -- "$2" "$tmp/$1.out" || { cat "$tmp/$1.out" >&2; die "$1: the output does not contain \"$2\""; }
}

nslab=/tmp/.nslab/nslab
failures=0
step() { echo "== $*"; }

step "the emulation itself: Docker's capabilities as effective and bounding set, /proc/sys read-only"
container shape --caps "NET_ADMIN SYS_ADMIN" --ro-proc-sys -- sh -c \
  'grep -E "^Cap(Eff|Bnd)" /proc/self/status; echo 1 >/proc/sys/net/ipv4/ip_forward 2>&1 || true' || true
expect_in shape "CapEff:	00000000a82435fb"
expect_in shape "CapBnd:	00000000a82435fb"
expect_in shape "Read-only file system"

step "docker+caps: --cap-add NET_ADMIN --cap-add SYS_ADMIN, /proc/sys read-only: nslab doctor"
container caps-doctor --caps "NET_ADMIN SYS_ADMIN" --ro-proc-sys -- $nslab doctor \
  || { cat "$tmp/caps-doctor.out" >&2; die "caps-doctor: nslab doctor failed"; }
expect_in caps-doctor "sysctls: writable through a private proc"
expect_in caps-doctor "/dev/net/tun missing"
expect_in caps-doctor "No problems found."

step "docker+caps: nslab test (the catalogue)"
start=$SECONDS
container caps-test --caps "NET_ADMIN SYS_ADMIN" --ro-proc-sys -- $nslab test \
  || { cat "$tmp/caps-test.out" >&2; die "caps-test: nslab test failed under a read-only /proc/sys"; }
tail -n 1 "$tmp/caps-test.out"
expect_in caps-test " 0 failed"
echo "   ($((SECONDS - start)) s)"

step "docker+caps: nslab up, ip netns, nslab exec (ping across the router), nslab down"
container caps-up --caps "NET_ADMIN SYS_ADMIN" --ro-proc-sys -- sh -c \
  "$nslab up router --name ci && ip netns list && $nslab exec ci h1 -- ping -c1 -W2 10.12.2.2 && $nslab down ci && ! ip netns list | grep -q ci-" \
  || { cat "$tmp/caps-up.out" >&2; die "caps-up: nslab up/exec/down failed"; }
expect_in caps-up "ci-r1"
expect_in caps-up "1 received"

step "rootless Podman's shape: a user namespace of the container's own, NET_ADMIN and SYS_ADMIN, /proc/sys read-only: nslab test"
container userns-test --userns --caps "NET_ADMIN SYS_ADMIN" --ro-proc-sys -- $nslab test \
  || { cat "$tmp/userns-test.out" >&2; die "userns-test: nslab test failed in a container with a user namespace"; }
tail -n 1 "$tmp/userns-test.out"
expect_in userns-test " 0 failed"

step "rootless: Docker's capabilities only, /proc/sys writable (systempaths=unconfined): nslab doctor"
container rootless-doctor --  $nslab doctor \
  || { cat "$tmp/rootless-doctor.out" >&2; die "rootless-doctor: nslab doctor failed"; }
expect_in rootless-doctor "rootless mode: works"
expect_in rootless-doctor "✘ CAP_NET_ADMIN"

step "rootless: nslab test (the catalogue)"
start=$SECONDS
container rootless-test -- $nslab test \
  || { cat "$tmp/rootless-test.out" >&2; die "rootless-test: nslab test failed rootless"; }
tail -n 1 "$tmp/rootless-test.out"
expect_in rootless-test " 0 failed"
echo "   ($((SECONDS - start)) s)"

step "rootless: nslab up with stdout piped prints 'lab is up' before it blocks; SIGINT tears it down"
container rootless-up -- bash -c '
  mkfifo /tmp/up.fifo
  "$0" up router --name ci >/tmp/up.fifo 2>/tmp/up.err &
  pid=$!
  exec 3</tmp/up.fifo
  got=0
  while IFS= read -r -t 20 line <&3; do
    echo "$line"
    case $line in *"lab ci is up"*) got=1; break ;; esac
  done
  kill -INT $pid; wait $pid; status=$?
  cat /tmp/up.err
  [ $got = 1 ] && echo "UP-SEEN-WHILE-RUNNING"
  exit $status' $nslab \
  || { cat "$tmp/rootless-up.out" >&2; die "rootless-up: nslab up did not exit cleanly on SIGINT"; }
expect_in rootless-up "UP-SEEN-WHILE-RUNNING"
expect_in rootless-up "lab ci torn down"

step "doctor: rootless under a read-only /proc/sys names the cause and the fix"
if container rootless-ro-doctor --ro-proc-sys -- $nslab doctor; then
  cat "$tmp/rootless-ro-doctor.out" >&2; die "rootless-ro-doctor: doctor says labs can be built"
fi
expect_in rootless-ro-doctor "/proc/sys is read-only"
expect_in rootless-ro-doctor "systempaths=unconfined"

step "doctor: a seccomp filter refusing unshare is named, the kernel is 'not probed'"
if container seccomp-doctor --seccomp -- $nslab doctor; then
  cat "$tmp/seccomp-doctor.out" >&2; die "seccomp-doctor: doctor says labs can be built"
fi
expect_in seccomp-doctor "a seccomp filter refuses unshare"
expect_in seccomp-doctor "seccomp=unconfined"
expect_in seccomp-doctor "not probed"
if grep -q "CONFIG_VETH\|max_user_namespaces and" "$tmp/seccomp-doctor.out"; then
  cat "$tmp/seccomp-doctor.out" >&2; die "seccomp-doctor: doctor blames the kernel or the user namespace limit"
fi

step "doctor: a read-only /run gets the --tmpfs /run fix"
container ro-run-doctor --caps "NET_ADMIN SYS_ADMIN" --ro-run -- $nslab doctor || true
expect_in ro-run-doctor "/run is read-only"
expect_in ro-run-doctor "--tmpfs /run"

# Every container had its own network, mount and PID namespaces, all gone with it. The host is
# shared (other jobs may add namespaces and mounts meanwhile), so check what could be ours.
if ip netns list | grep -q '^ci-'; then
  ip netns list >&2; die "a lab of the containers (ci-*) is left in the host's /run/netns"
fi
if grep -qF "$tmp" /proc/self/mountinfo; then
  grep -F "$tmp" /proc/self/mountinfo >&2; die "a mount of the containers is left on the host"
fi
echo "containers.sh: all container checks passed"
