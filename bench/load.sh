#!/usr/bin/env bash
# The load harness: seeds 100 courses, 5 badge image configurations, 100,000 learners and
# 200,000 assertions, starts a release server on 127.0.0.1, then runs wrk for 30 s at 64
# connections against each page below, and writes requests/s, p50/p99 latency, errors and
# the server's peak memory to bench/results.md.
#
#   bench/load.sh              # SQLite
#   bench/load.sh --postgres   # PostgreSQL: LOAD_DATABASE_URL, or a local accolade_load database
#
# LOAD_SECONDS and LOAD_CONNECTIONS change the run.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${LOAD_SECONDS:-30}
connections=${LOAD_CONNECTIONS:-64}
port=${LOAD_PORT:-8077}
password="load-harness-password-41"
work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

backend=SQLite
database_url="sqlite://$work/load.db"
if [ "${1:-}" = "--postgres" ]; then
  backend=PostgreSQL
  if [ -n "${LOAD_DATABASE_URL:-}" ]; then
    database_url=$LOAD_DATABASE_URL
  else
    su postgres -c "dropdb --if-exists accolade_load"
    su postgres -c "psql -qtc \"SELECT 1 FROM pg_roles WHERE rolname = 'accolade_load'\"" | grep -q 1 \
      || su postgres -c "psql -qc \"CREATE ROLE accolade_load LOGIN PASSWORD 'accolade_load'\""
    su postgres -c "createdb -O accolade_load accolade_load"
    database_url="postgres://accolade_load:accolade_load@127.0.0.1/accolade_load?sslmode=disable"
  fi
fi

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet --bin accolade --example seed_load

export DATABASE_URL=$database_url
export ACCOLADE_SECRET_KEY="load-harness-secret-key-0123456789-abcdefgh"
export ACCOLADE_LOG=warn
export ACCOLADE_WORKERS=0
token=$(LOAD_PASSWORD=$password target/release/examples/seed_load | sed -n 's/^TOKEN=//p')

ACCOLADE_BIND="127.0.0.1:$port" target/release/accolade serve >"$work/server.log" 2>&1 &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

# A logged-in admin session: the login form's CSRF token, then the login.
jar="$work/cookies"
csrf=$(curl -s -c "$jar" "$base/admin/login/" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -n 1)
curl -s -b "$jar" -c "$jar" -o /dev/null -H "Origin: $base" \
  --data-urlencode "csrf_token=$csrf" --data-urlencode "username=loadadmin" \
  --data-urlencode "password=$password" "$base/admin/login/"
cookie=$(awk '$6 == "accolade_session" { print $6 "=" $7 }' "$jar")
[ -n "$cookie" ] || { echo "load: could not log in" >&2; cat "$work/server.log" >&2; exit 1; }

peak_kib() { awk '/VmHWM/ { print $2 }' "/proc/$server/status"; }

# name|path|header
pages=(
  "healthz (ceiling)|/healthz|"
  "login page|/admin/login/|"
  "admin index|/admin/|Cookie: $cookie"
  "badge image configurations|/admin/certificates/badgeimageconfiguration/|Cookie: $cookie"
  "assertions, searched|/admin/badges/badgeassertion/?q=learner4242|Cookie: $cookie"
  "frozen images report|/admin/badges/frozen-images/|Cookie: $cookie"
  "learners' badges API|/api/badges/v1/assertions/user/learner4242/|Authorization: Bearer $token"
)

# This backend's section of bench/results.md is replaced; the other backend's stays.
results="$work/section.md"
{
  echo "## $backend"
  echo
  echo "\`bench/load.sh${1:+ $1}\` on $(date -u +%Y-%m-%d), $(nproc) cores: 100 courses, 5 badge image"
  echo "configurations, 100,000 learners, 200,000 assertions; wrk, ${seconds} s at $connections connections per page."
  echo
  echo "| page | requests/s | p50 | p99 | errors | peak memory so far |"
  echo "|---|---|---|---|---|---|"
} >"$results"

for entry in "${pages[@]}"; do
  IFS='|' read -r name path header <<<"$entry"
  # Check the page answers as it should before loading it.
  status=$(curl -s -o /dev/null -w '%{http_code}' ${header:+-H "$header"} "$base$path")
  [ "$status" = 200 ] || { echo "load: $path answered $status" >&2; exit 1; }
  out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency ${header:+-H "$header"} "$base$path")
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' <<<"$out")
  socket=$(awk -F'[ ,]+' '/Socket errors:/ { print $4 + $6 + $8 + $10 }' <<<"$out")
  errors=$(( ${non2xx:-0} + ${socket:-0} ))
  peak_so_far="$(( $(peak_kib) / 1024 )) MiB"
  echo "| $name | $rps | $p50 | $p99 | $errors | $peak_so_far |" >>"$results"
  echo "$name: $rps requests/s, p50 $p50, p99 $p99, $errors errors, peak $peak_so_far"
done

peak=$(( $(peak_kib) / 1024 ))
{
  echo
  echo "Peak resident memory of the server over the whole run: **${peak} MiB** (VmHWM)."
} >>"$results"
python3 - "$results" "$backend" <<'PY'
import re, sys
section, backend = open(sys.argv[1]).read(), sys.argv[2]
try:
    text = open("bench/results.md").read()
except FileNotFoundError:
    text = "# Load harness results\n"
parts = re.split(r"(?m)^(?=## )", text)
kept = [p for p in parts[1:] if not p.startswith(f"## {backend}\n")]
order = {"SQLite": 0, "PostgreSQL": 1}
body = sorted(kept + [section], key=lambda p: order.get(p.split("\n")[0][3:], 2))
open("bench/results.md", "w").write(parts[0].rstrip() + "\n\n" + "\n".join(b.rstrip() + "\n" for b in body))
PY
echo "peak memory: ${peak} MiB; written to bench/results.md ($backend)"
