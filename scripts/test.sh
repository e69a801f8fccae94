#!/usr/bin/env bash
# Runs every check Lotse's CI runs, on a fresh Debian machine with Go:
# formatting, vet, all tests with the race detector (against a throwaway
# redis-server, installed here if missing), and a short fuzz smoke test.
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
go test -race -count=1 ./...

if [ "${LOTSE_SKIP_FUZZ:-}" = "1" ]; then
	echo "== fuzz smoke skipped (LOTSE_SKIP_FUZZ=1)"
	exit 0
fi

echo "== fuzz smoke"
targets=()
for pkg in $(go list ./...); do
	for name in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		targets+=("$pkg $name")
	done
done
if [ "${#targets[@]}" -eq 0 ]; then
	echo "no fuzz targets"
	exit 0
fi
# Keep the whole smoke test near 2 minutes: at most 100 s of fuzzing,
# the rest is compilation.
per="${LOTSE_FUZZTIME:-5s}"
secs="${per%s}"
if [[ "$secs" =~ ^[0-9]+$ ]] && [ $((secs * ${#targets[@]})) -gt 100 ]; then
	secs=$((100 / ${#targets[@]}))
	[ "$secs" -ge 1 ] || secs=1
	per="${secs}s"
fi
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "-- $name ($pkg, $per)"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$per" "$pkg"
done
echo "== all checks passed"
