#!/usr/bin/env bash
# Prepares a local Docker test environment: engine, base image, registry.
# Idempotent and quiet on success; prints one summary line at the end.
#   - installs docker.io, busybox-static, docker-registry from Debian if missing
#   - starts dockerd (vfs storage) if no engine answers, falling back to
#     --iptables=false --bridge=none when the default bridge cannot be set up
#   - imports flowyard/busybox:latest (also tagged local/busybox:latest) from busybox-static
#   - serves a registry on 127.0.0.1:5000
set -euo pipefail

readonly BASE_IMAGE=flowyard/busybox:latest
readonly BASE_IMAGE_ALIAS=local/busybox:latest
readonly REGISTRY_ADDR=127.0.0.1:5000
readonly REGISTRY_HOME=/var/lib/flowyard-registry
readonly DOCKERD_LOG=/var/log/flowyard-dockerd.log
readonly REGISTRY_LOG=/var/log/flowyard-registry.log
readonly ENGINE_WAIT_SECONDS=60

fail() {
  echo "docker setup: $*" >&2
  exit 1
}

install_missing_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  [ ${#missing[@]} -eq 0 ] && return 0

  local apt_log
  apt_log=$(mktemp)
  if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
    tail -n 30 "$apt_log" >&2
    fail "could not install ${missing[*]} (log: $apt_log)"
  fi
  rm -f "$apt_log"
}

engine_answers() {
  docker info >/dev/null 2>&1
}

# Starts dockerd with the given extra flags and waits until it answers.
# Returns non-zero if it exits or does not answer in time.
start_dockerd() {
  echo "=== $(date -u +%FT%TZ) starting dockerd --storage-driver=vfs $*" >>"$DOCKERD_LOG"
  # setsid: the daemon must outlive the caller's process group (test runners kill theirs).
  setsid nohup dockerd --storage-driver=vfs "$@" >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
  local pid=$!
  local deadline=$((SECONDS + ENGINE_WAIT_SECONDS))
  while [ $SECONDS -lt $deadline ]; do
    engine_answers && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.5
  done
  kill "$pid" 2>/dev/null || true
  return 1
}

wait_for_engine() {
  local deadline=$((SECONDS + ENGINE_WAIT_SECONDS))
  until engine_answers; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}

ensure_engine() {
  engine_answers && return 0
  # Another run of this script (or an operator) may have just started it.
  if pgrep -x dockerd >/dev/null; then
    wait_for_engine && return 0
    fail "dockerd is running but does not answer (log: $DOCKERD_LOG)"
  fi
  command -v iptables >/dev/null 2>&1 && start_dockerd && return 0
  start_dockerd --iptables=false --bridge=none && return 0
  tail -n 30 "$DOCKERD_LOG" >&2
  fail "dockerd did not answer within ${ENGINE_WAIT_SECONDS}s (log: $DOCKERD_LOG)"
}

image_exists() {
  docker image inspect "$1" >/dev/null 2>&1
}

# Runs in a subshell so the EXIT trap removes the temporary root filesystem.
import_base_image() (
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/root" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
  done
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$rootfs/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$rootfs/etc/group"
  tar -C "$rootfs" -c . |
    docker import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' - "$BASE_IMAGE" >/dev/null
)

ensure_base_image() {
  image_exists "$BASE_IMAGE" || import_base_image
  image_exists "$BASE_IMAGE_ALIAS" || docker tag "$BASE_IMAGE" "$BASE_IMAGE_ALIAS"
}

registry_answers() {
  curl -fsS -o /dev/null --max-time 2 "http://$REGISTRY_ADDR/v2/" 2>/dev/null
}

ensure_registry() {
  registry_answers && return 0
  mkdir -p "$REGISTRY_HOME/data"
  cat >"$REGISTRY_HOME/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $REGISTRY_HOME/data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
EOF
  setsid nohup docker-registry serve "$REGISTRY_HOME/config.yml" >>"$REGISTRY_LOG" 2>&1 </dev/null 9>&- &
  local pid=$!
  for _ in $(seq 40); do
    registry_answers && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  tail -n 20 "$REGISTRY_LOG" >&2
  fail "registry did not answer on http://$REGISTRY_ADDR/v2/ (log: $REGISTRY_LOG)"
}

main() {
  [ "$(id -u)" -eq 0 ] || fail "must run as root (installs packages and starts dockerd)"
  # Concurrent runs (parallel test scripts) wait for each other instead of racing apt, dockerd and the import.
  # The daemons started below must not inherit fd 9, or they would hold the lock forever.
  mkdir -p /run/lock
  exec 9>/run/lock/flowyard-docker-setup.lock
  flock 9
  install_missing_packages
  ensure_engine
  ensure_base_image
  ensure_registry
  local engine_version
  engine_version=$(docker version --format '{{.Server.Version}}')
  echo "docker: ready (engine $engine_version, images: $BASE_IMAGE $BASE_IMAGE_ALIAS, registry $REGISTRY_ADDR)"
}

main "$@"
