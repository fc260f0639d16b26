#!/usr/bin/env bash
# systemd/try-under-systemd.sh: try the units under a real systemd where PID 1
# is not systemd (a container, a CI runner). Boots a throwaway systemd as
# PID 1 of its own pid, mount, cgroup, network, UTS and IPC namespaces, with
# a copy of /etc (a minimal boot: journald only), empty /run, /var/lib,
# /var/log and /tmp, and an installed tree bound over /usr/local. Nothing
# outside WORK changes but one cgroup, nlpd-try, in each hierarchy (removed
# by stop). Root only; not a CTest. systemd/README.md says what was tried.
#
#   DESTDIR=$PWD/build/try/dest cmake --install build/dev      # a /usr/local build
#   systemd/try-under-systemd.sh boot build/try build/try/dest
#   systemd/try-under-systemd.sh run build/try systemctl start nlpd
#   systemd/try-under-systemd.sh run build/try nlpctl --runtime-dir /run/nlpd status
#   systemd/try-under-systemd.sh run build/try journalctl -u nlpd
#   systemd/try-under-systemd.sh stop build/try
#
# Inside, the user nlpd exists (systemd-sysusers ran); add clients with
# `run WORK useradd -M -G nlpd alice` and `run WORK runuser -u alice -- nlpctl ...`.
# A drop-in with SystemCallErrorNumber=kill in WORK/etc/systemd/system/
# nlpd.service.d/ makes a call outside the filter kill the process instead of
# failing with EPERM.
set -euo pipefail
usage="usage: try-under-systemd.sh boot WORK DESTDIR | run WORK CMD... | stop WORK"
cmd=${1:?$usage}
work=$(realpath -m "${2:?$usage}")
shift 2
cg=nlpd-try

pid_of() {
  cat "$work/pid" 2>/dev/null || true
}

case $cmd in
boot)
  dest=$(realpath "${1:?$usage}")
  [ "$(id -u)" -eq 0 ] || { echo "root only"; exit 1; }
  [ -d "$dest/usr/local" ] || { echo "$dest/usr/local: no installed tree"; exit 1; }
  if [ -n "$(pid_of)" ] && kill -0 "$(pid_of)" 2>/dev/null; then
    echo "already running (pid $(pid_of))"
    exit 1
  fi
  mkdir -p "$work"
  rm -rf "$work/etc"
  cp -a /etc "$work/etc"
  units=$work/etc/systemd/system
  rm -rf "$units"/*.target.wants
  for u in $(ls /lib/systemd/system/sysinit.target.wants/) getty.target dbus.service \
           systemd-logind.service systemd-udevd.service systemd-networkd.service \
           systemd-pstore.service systemd-timesyncd.service local-fs.target swap.target; do
    [ "$u" = systemd-journald.service ] || ln -sf /dev/null "$units/$u"
  done
  printf '[Unit]\nDescription=nlpd try target\nWants=systemd-journald.socket systemd-journald.service\n' \
    >"$units/nlpd-try.target"
  echo nlpd-try >"$work/etc/hostname"
  if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
    cgroups=unified
  else
    cgroups=hybrid
  fi
  cat >"$work/inner.sh" <<EOF
#!/bin/bash
set -euo pipefail
mount -t proc proc /proc
mount -o bind,ro /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys
umount -R /sys/fs/cgroup
if [ $cgroups = unified ]; then
  mount -t cgroup2 cgroup2 /sys/fs/cgroup
else
  mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
  for h in \$(cut -f1 /proc/cgroups | grep -v '^#'); do
    [ -n "\$(grep -w "\$h" /proc/self/cgroup)" ] || continue
    mkdir -p /sys/fs/cgroup/\$h && mount -t cgroup -o \$h cgroup /sys/fs/cgroup/\$h || rmdir /sys/fs/cgroup/\$h
  done
  mkdir /sys/fs/cgroup/systemd && mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
  mkdir /sys/fs/cgroup/unified && mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
fi
mount --bind "$work/etc" /etc
mount --bind "$dest/usr/local" /usr/local
for d in /run /var/lib /var/log /var/tmp /var/cache /tmp; do mount -t tmpfs -o mode=755 tmpfs \$d; done
chmod 1777 /tmp /var/tmp
mkdir -p /run/lock /var/lib/systemd
systemd-sysusers >/dev/null
export container=nlpd-try
exec /lib/systemd/systemd --system --unit=nlpd-try.target </dev/null >"$work/pid1.log" 2>&1
EOF
  chmod +x "$work/inner.sh"
  # Our own cgroup in every hierarchy, so that the namespace's root is it.
  (
    for h in /sys/fs/cgroup/ /sys/fs/cgroup/*/; do
      [ -f "$h/cgroup.procs" ] || continue
      mkdir -p "$h/$cg"
      if [ -f "$h/cpuset.cpus" ]; then
        cat "$h/cpuset.cpus" >"$h/$cg/cpuset.cpus"
        cat "$h/cpuset.mems" >"$h/$cg/cpuset.mems"
      fi
      echo $BASHPID >"$h/$cg/cgroup.procs"
    done
    exec setsid unshare --pid --fork --mount --uts --net --ipc --cgroup --propagation private \
      "$work/inner.sh" </dev/null >"$work/unshare.log" 2>&1
  ) &
  for _ in $(seq 1 50); do
    sleep 0.2
    pid=$(pgrep -n -f "^/lib/systemd/systemd --system --unit=nlpd-try.target" || true)
    [ -n "$pid" ] || continue
    echo "$pid" >"$work/pid"
    if nsenter -t "$pid" -m -p -u -n -i -C --wd=/ systemctl is-system-running >/dev/null 2>&1; then
      echo "systemd is PID 1 of its namespaces (pid $pid here); run: $0 run $work CMD..."
      exit 0
    fi
  done
  cat "$work/unshare.log" >&2 || true
  echo "systemd did not come up" >&2
  exit 1
  ;;
run)
  pid=$(pid_of)
  [ -n "$pid" ] || { echo "not booted"; exit 1; }
  exec nsenter -t "$pid" -m -p -u -n -i -C --wd=/ "$@"
  ;;
stop)
  pid=$(pid_of)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" # PID 1 of its namespace: everything in it goes too
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$work/pid"
  for h in /sys/fs/cgroup/$cg /sys/fs/cgroup/*/$cg; do
    [ -d "$h" ] && find "$h" -depth -type d -exec rmdir {} \;
  done
  echo stopped
  ;;
*)
  echo "$usage"
  exit 2
  ;;
esac
