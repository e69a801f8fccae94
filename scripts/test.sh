#!/usr/bin/env bash
# Runs every check Lotse's CI runs, on a fresh Debian machine with Go:
# formatting, vet, all tests with the race detector (against a throwaway
# redis-server, installed here if missing), a check that the tests' logs
# hold no names or message texts, and a short fuzz smoke test.
#
# Environment:
#   CI=true               a missing redis-server fails the Redis tests instead of skipping them
#   LOTSE_TEST_REDIS_URL  use this Redis (redis://...) instead of a throwaway redis-server
#   LOTSE_SKIP_FUZZ=1     skip the fuzz smoke test
#   LOTSE_FUZZTIME        fuzz time per target (default 5s; the total is capped at about 2 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
echo "== $(go version)"

if [ -z "${LOTSE_TEST_REDIS_URL:-}" ] && ! command -v redis-server >/dev/null 2>&1; then
	echo "== installing redis-server"
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		sudo="sudo"
	fi
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends redis-server
	# Tests start their own server; stop one the package may have started.
	$sudo service redis-server stop >/dev/null 2>&1 || true
fi
if command -v redis-server >/dev/null 2>&1; then
	echo "== $(redis-server --version)"
fi

echo "== gofmt"
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
	echo "gofmt: these files need formatting (run gofmt -w):" >&2
	echo "$unformatted" >&2
	exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race"
# Every test logger, every in-process `lotse run` and every `lotse run`
# subprocess the tests start (LOTSE_LOG_COPY, cmd/lotse/logcopy.go) also
# appends its records at info level and above to this file; afterwards it
# must hold no name or message text the tests use (bot/bottest/canary.go).
logfile="$(mktemp "${TMPDIR:-/tmp}/lotse-test-log.XXXXXX")"
trap 'rm -f "$logfile"' EXIT
unset LOTSE_TEST_LOG_CHECK
LOTSE_TEST_LOG_FILE="$logfile" go test -race -count=1 ./...

echo "== log privacy: no name or message text in $(wc -l <"$logfile") log records of the test run"
LOTSE_TEST_LOG_CHECK="$logfile" go test -count=1 -run '^TestLogFileCanaries$' -v ./bot/bottest

if [ "${LOTSE_SKIP_FUZZ:-}" = "1" ]; then
	echo "== fuzz smoke skipped (LOTSE_SKIP_FUZZ=1)"
	exit 0
fi

echo "== fuzz smoke"
start=$SECONDS
budget=110 # seconds for the whole smoke test, compilation included
targets=()
# Only packages whose tests declare fuzz targets; listing compiles tests.
while read -r dir pkg; do
	if grep -qs '^func Fuzz' "$dir"/*_test.go; then
		for name in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
			targets+=("$pkg $name")
		done
	fi
done < <(go list -f '{{.Dir}} {{.ImportPath}}' ./...)
if [ "${#targets[@]}" -eq 0 ]; then
	echo "no fuzz targets"
	echo "== all checks passed"
	exit 0
fi
# Each target costs its fuzz time plus an instrumented build (a few
# seconds), so split about half the budget into fuzz time.
per="${LOTSE_FUZZTIME:-5s}"
secs="${per%s}"
if [[ "$secs" =~ ^[0-9]+$ ]] && [ $((secs * ${#targets[@]})) -gt $((budget / 2)) ]; then
	secs=$((budget / 2 / ${#targets[@]}))
	[ "$secs" -ge 1 ] || secs=1
	per="${secs}s"
fi
# Go 1.26's fuzz coordinator can fail a target with a bare "context
# deadline exceeded" when -fuzztime ends while a worker is mid-call
# (golang/go#75804, fixed in Go 1.27). That failure names no input, so it
# is retried once; a second failure, a written failing input, a panic or
# any other error fails the run.
fuzz_one() {
	local out rc
	out=$(mktemp)
	for attempt in 1 2; do
		set +e
		go test -run '^$' -fuzz "^${2}\$" -fuzztime "$per" "$1" 2>&1 | tee "$out"
		rc=${PIPESTATUS[0]}
		set -e
		if [ "$rc" -eq 0 ]; then
			rm -f "$out"
			return 0
		fi
		if [ "$attempt" -eq 1 ] && grep -q 'context deadline exceeded' "$out" &&
			! grep -Eq 'Failing input written|panic:|_test\.go:[0-9]+:' "$out"; then
			echo "!! $2: bare 'context deadline exceeded' at the fuzz time limit (golang/go#75804); retrying once"
			continue
		fi
		rm -f "$out"
		return "$rc"
	done
}
skipped=0
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	if [ $((SECONDS - start)) -ge "$budget" ]; then
		echo "!! fuzz budget of ${budget}s used up; NOT fuzzed: $name ($pkg)"
		skipped=$((skipped + 1))
		continue
	fi
	echo "-- $name ($pkg, $per)"
	fuzz_one "$pkg" "$name"
done
echo "== fuzz smoke: ${#targets[@]} targets, $skipped not run for time, $((SECONDS - start))s"
echo "== all checks passed"
