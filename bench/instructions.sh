#!/usr/bin/env bash
# Instructions groupd spends per request, counted by valgrind's callgrind (the
# same count run after run, however busy the machine): starts BIN on a fresh
# database under callgrind, sends N and then 5N keep-alive requests from one
# client in two runs, and prints (I(5N) - I(N)) / 4N.
#   bench/instructions.sh BIN GET /health 500
#   bench/instructions.sh BIN GET /api/v1/groups/3 500
#   bench/instructions.sh BIN POST /api/v1/groups 200     # creates {"name": "gN"}
# With GROUPD_DATABASE_URL set (inside scripts/with-postgres: a fresh database per
# run is made from GROUPD_TEST_PG_URL), groupd runs on PostgreSQL.
set -euo pipefail
bin=$1 method=$2 path=$3 n=$4

run() { # count
  local d db_args=() url="" out
  d=$(mktemp -d)
  if [ -n "${GROUPD_TEST_PG_URL:-}" ]; then
    local db="instr_$RANDOM$RANDOM"
    "$GROUPD_TEST_PG_BIN/psql" -q "$GROUPD_TEST_PG_URL" -c "CREATE DATABASE $db" >/dev/null
    url="${GROUPD_TEST_PG_URL%/*}/$db"
    db_args=(--database-url "$url")
  fi
  GROUPD_LOG=warn GROUPD_RATE_LIMIT_ADDRESS_PER_SEC=100000000 GROUPD_RATE_LIMIT_KEY_PER_SEC=100000000 \
    valgrind --tool=callgrind --callgrind-out-file="$d/cg.out" "$bin" "${db_args[@]}" serve \
    --data-dir "$d" --listen 127.0.0.1:0 >"$d/out" 2>"$d/err" &
  local pid=$!
  for _ in $(seq 300); do grep -q listening "$d/out" 2>/dev/null && break; sleep 0.2; done
  python3 - "$(grep -o '127.0.0.1:[0-9]*' "$d/out" | head -1)" "$method" "$path" "$1" "$(sed -n 2p "$d/out" | tr -d ' ')" <<'PY'
import http.client, json, sys
host, port = sys.argv[1].split(":")
method, path, n, key = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
c = http.client.HTTPConnection(host, int(port))
for i in range(n):
    body = json.dumps({"name": f"g{i}"}) if method == "POST" else None
    c.request(method, path, body=body, headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status < 300, r.status
PY
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  out=$(grep -E '^(summary|totals):' "$d/cg.out" | head -1 | awk '{print $2}')
  rm -rf "$d"
  echo "$out"
}

small=$(run "$n")
large=$(run $((5 * n)))
echo "$method $path: $(( (large - small) / (4 * n) )) instructions per request"
