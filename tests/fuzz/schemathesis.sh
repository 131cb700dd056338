#!/usr/bin/env bash
# Property-based run of the whole JSON API from its own spec (schemathesis),
# against a real server on a fresh database: once logged out, once logged in
# with the session cookie, and once with a bearer token (a write token).
# Fails on any server error or any answer that breaks the spec.
#
#   tests/fuzz/schemathesis.sh [DATABASE_URL]     # default: a fresh SQLite file
#
# Needs the debug binary (cargo build) and Python 3; installs schemathesis
# into a virtualenv of its own (target/schemathesis-venv).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

SCHEMATHESIS_VERSION=4.32.5
VENV=$ROOT/target/schemathesis-venv
BIN=$ROOT/target/debug/tangerine
WORK=$(mktemp -d)
DB_URL=${1:-sqlite://$WORK/fuzz.db}
PORT=${FUZZ_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
BASE=http://127.0.0.1:$PORT
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
EXAMPLES=${FUZZ_EXAMPLES:-30}

if [ ! -x "$VENV/bin/st" ] || ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
[ -x "$BIN" ] || cargo build --locked --bin tangerine

# No login, sign-up, posting, password-reset or hashing-queue limits: the
# fuzzer's thousands of wrong logins, sign-ups from one address, posts and
# reset requests would otherwise (rightly) get 429 for everything after the
# first few. Mail (sign-ups with an address) goes to the run's own folder.
"$BIN" --addr "127.0.0.1:$PORT" --database-url "$DB_URL" --login-max-failures 0 \
  --login-max-failures-per-address 0 --signup-limit 0 --max-pending-logins 0 --post-limit 0 \
  --forgot-password-limit 0 --forgot-password-limit-per-address 0 --mail-dir "$WORK/mail" \
  > "$WORK/server.log" 2>&1 &
SERVER=$!
cleanup() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 1 100); do curl -sf -o /dev/null "$BASE/healthz" && break; sleep 0.1; done

run() {
  "$VENV/bin/st" run "$BASE/api/openapi.json" --checks "$CHECKS" --max-examples "$EXAMPLES" \
    --seed 20261129 --generation-database none --no-color --request-timeout 20 "$@"
}

echo "== schemathesis, logged in ($DB_URL)"
JAR=$WORK/jar
USER_JSON='{"username":"fuzzer","password":"correct horse battery"}'
# The fuzzed session is an admin's, made with the command line, so that the
# staff operations are covered. It stays one: nobody suspends themselves,
# changes their own role or ends their own sessions through /api/admin.
printf '%s\n' "correct horse battery" \
  | "$BIN" user create fuzzer --role admin --password-stdin --database-url "$DB_URL" > /dev/null
curl -sf -o /dev/null -c "$JAR" -b "$JAR" -H 'Content-Type: application/json' -d "$USER_JSON" "$BASE/api/session"
TOKEN=$(curl -sf -c "$JAR" -b "$JAR" "$BASE/api/session/csrf" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
COOKIE=$(awk -F'\t' 'NF>=7 { sub(/^#HttpOnly_/, "", $1); if ($1 !~ /^#/) printf "%s%s=%s", (n++ ? "; " : ""), $6, $7 }' "$JAR")
# A write token, made now: the cookie run below may fill the person's quota.
BEARER=$(curl -sf -c "$JAR" -b "$JAR" -H 'Content-Type: application/json' -H "X-CSRF-Token: $TOKEN" \
  -d '{"name":"schemathesis","scope":"write","expires_in_days":7}' "$BASE/api/tokens" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
# Logging in or out, ending a session, or deleting the account could end the
# very session the run uses: those are covered by the logged-out run and the HTTP tests.
run -H "Cookie: $COOKIE" -H "X-CSRF-Token: $TOKEN" --exclude-operation-id login --exclude-operation-id logout --exclude-operation-id revoke_session --exclude-operation-id delete_me
curl -sf -o /dev/null -b "$JAR" "$BASE/api/me" || { echo "the session died during the run" >&2; exit 1; }
curl -sf -o /dev/null -b "$JAR" "$BASE/api/admin/log" || { echo "the admin lost their role during the run" >&2; exit 1; }

echo "== schemathesis, with a bearer token ($DB_URL)"
# Every operation, login and logout included: a token may not log in or out,
# end sessions or manage tokens (403), so nothing here can end the run's token.
run -H "Authorization: Bearer $BEARER"
curl -sf -o /dev/null -H "Authorization: Bearer $BEARER" "$BASE/api/me" || { echo "the token died during the run" >&2; exit 1; }

echo "== schemathesis, logged out ($DB_URL)"
run

if grep -q "ERROR" "$WORK/server.log"; then
  echo "the server logged errors:" >&2
  grep "ERROR" "$WORK/server.log" >&2
  exit 1
fi
echo "== schemathesis: no server error, every answer as the spec says"
