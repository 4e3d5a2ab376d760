#!/usr/bin/env bash
# The services of the several-replica tests (tests/scale, tests/bench/replicas.ts): Debian's redis-server
# (the event bus between API replicas) and nginx (the load balancer in front of them), on loopback only.
#
#   services.sh install                      apt-get install redis-server and nginx when missing (as root; no systemd needed)
#   services.sh redis PORT DIR               run redis-server on 127.0.0.1:PORT in the foreground, nothing persisted, files in DIR
#   services.sh nginx PORT DIR UPSTREAM...   write DIR/nginx.conf (round robin over the UPSTREAM host:port list, no
#                                            stickiness, SSE unbuffered, WebSocket upgrades) and run nginx in the foreground
#
# `redis` and `nginx` exec the server, so the caller's child process is the server itself (kill it to stop it).
set -euo pipefail

usage() {
  echo "usage: services.sh install | redis PORT DIR | nginx PORT DIR HOST:PORT..." >&2
  exit 2
}

install_missing() {
  local missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx)
  [ ${#missing[@]} -eq 0 ] && return 0
  local log policy=/usr/sbin/policy-rc.d added_policy=''
  log=$(mktemp)
  # Debian's packages start their service on install; the tests start their own on other ports.
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added_policy=1
  fi
  trap 'rm -f "$log"; [ -n "$added_policy" ] && rm -f "$policy"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "services setup: apt-get could not install ${missing[*]}" >&2
    exit 1
  fi
  command -v redis-server >/dev/null 2>&1 || { echo "services setup: redis-server is still missing after install" >&2; exit 1; }
  [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || { echo "services setup: nginx is still missing after install" >&2; exit 1; }
}

check_port() {
  [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ] && [ "$1" -lt 65536 ] || { echo "services: port must be a number from 1 to 65535, got '$1'" >&2; exit 2; }
}

run_redis() {
  local port=$1 dir=$2
  check_port "$port"
  mkdir -p "$dir"
  exec redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no --protected-mode yes \
    --daemonize no --logfile '' --loglevel warning --maxclients 10000
}

run_nginx() {
  local port=$1 dir=$2
  shift 2
  check_port "$port"
  [ $# -gt 0 ] || usage
  mkdir -p "$dir/tmp"
  local servers='' upstream
  for upstream in "$@"; do
    [[ "$upstream" =~ ^(127\.0\.0\.1|localhost|\[::1\]):[0-9]+$ ]] || { echo "services: upstreams are loopback host:port, got '$upstream'" >&2; exit 2; }
    servers+="    server $upstream max_fails=1 fail_timeout=2s;"$'\n'
  done
  # As root the workers would run as nobody, who cannot use the caller's private temp folder.
  local user_line=''
  [ "$(id -u)" -eq 0 ] && user_line='user root;'
  cat >"$dir/nginx.conf" <<EOF
$user_line
worker_processes 1;
worker_rlimit_nofile 16384;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  # Round robin, no stickiness: consecutive requests of one client land on different replicas.
  upstream flowyard {
$servers    keepalive 64;
    # Below Node's 5 s keep-alive: nginx never reuses a connection the replica is closing (a 502 otherwise).
    keepalive_timeout 4s;
  }
  map \$http_upgrade \$connection_upgrade { default upgrade; '' ''; }
  server {
    listen 127.0.0.1:$port;
    client_max_body_size 0;
    location / {
      proxy_pass http://flowyard;
      proxy_http_version 1.1;
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      # Server-sent events and long-polls go through as they are written; uploads stream to the replica.
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      proxy_connect_timeout 2s;
      # A replica that refuses the connection (killed) is skipped; a request already sent is never sent twice.
      proxy_next_upstream error timeout;
    }
  }
}
EOF
  local nginx_bin
  nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
  exec "$nginx_bin" -c "$dir/nginx.conf" -p "$dir" -g 'daemon off;'
}

case "${1:-}" in
  install) install_missing ;;
  redis) [ $# -eq 3 ] || usage; run_redis "$2" "$3" ;;
  nginx) [ $# -ge 4 ] || usage; run_nginx "$2" "$3" "${@:4}" ;;
  *) usage ;;
esac
