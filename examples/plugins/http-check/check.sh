#!/bin/sh
# step.http_check: one HTTP GET, typed outputs (status, ok, latency_ms) in $FLOWYARD_OUTPUTS.
# The runner passes the step's config as PLUGIN_* variables (and whole in $FLOWYARD_REQUEST).
# busybox's static wget crashes in some sandboxes, so the request is written by hand through nc.
set -u
url="${PLUGIN_URL:?config.url is required}"
expect="${PLUGIN_EXPECT_STATUS:-200}"
timeout="${PLUGIN_TIMEOUT_SECONDS:-5}"
outputs="${FLOWYARD_OUTPUTS:-/flowyard/outputs.json}"
request="${FLOWYARD_REQUEST:-/flowyard/request.json}"
step=$(sed -n 's/.*"step":"\([^"]*\)".*/\1/p' "$request")
echo "http-check for step ${step:-?}"

rest="${url#http://}"
if [ "$rest" = "$url" ]; then
  echo "config.url must start with http:// (got $url)" >&2
  exit 2
fi
hostport="${rest%%/*}"
path="/${rest#*/}"
[ "$hostport" = "$rest" ] && path=/
host="${hostport%:*}"
port="${hostport##*:}"
[ "$port" = "$hostport" ] && port=80

# Milliseconds from /proc/uptime (10 ms steps): busybox date has no %N.
now_ms() {
  read -r up _ </proc/uptime
  echo $((${up%.*} * 1000 + ${up#*.} * 10))
}

start=$(now_ms)
status=$(printf 'GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: flowyard-http-check\r\n\r\n' "$path" "$hostport" |
  nc -w "$timeout" "$host" "$port" 2>/dev/null | head -n 1 | cut -d' ' -f2)
latency=$(($(now_ms) - start))
case "$status" in '' | *[!0-9]*) status=0 ;; esac
if [ "$status" = "$expect" ]; then ok=true; else ok=false; fi

printf '{"status":%d,"ok":%s,"latency_ms":%d}\n' "$status" "$ok" "$latency" >"$outputs"
if [ "$status" = 0 ]; then
  echo "GET $url: no answer within ${timeout}s (is the step's network_mode right?)"
else
  echo "GET $url: $status in ${latency} ms (expected $expect)"
fi
[ "$ok" = true ]
