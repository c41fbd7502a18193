#!/usr/bin/env bash
# Builds the benchmarks (Release) and runs them all; prints one summary table
# and writes JSON to bench/results/<run>/ (not committed), one file per
# benchmark. Needs /dev/fuse and the right to mount. Benchmarks print
# numbers; nothing here fails on timing (a benchmark exits non-zero only
# when reads failed).
#
#   bench/run.sh [--quick] [--only NAME[,NAME...]] [--iterations N] [--latency-ms N]
#                [--scale-rigs N] [--scale-window-s S] [--scale-large-rigs N]
#                [--daemon PATH]
#
# --daemon: run these benchmarks against another build of gastown-credfs
# (e.g. an older commit's, for a before/after in the same hour); the
# benchmark programs and fakes stay this tree's.
# scale also runs an idle case at --scale-large-rigs (default 100,000; 0
# skips it; not in --quick): every rig's first token takes minutes there.
#
# NAME: on_demand_wait hot_read credential_store_get herd scale startup refresh_cpu.
# --iterations/--latency-ms go to on_demand_wait (defaults 200 and 50).
# --quick: fewer samples, 1,000 rigs and a 10 s window (about a minute);
# refresh_cpu gets a 10 s window instead of 30 s.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
build="${CREDFS_BENCH_BUILD_DIR:-$repo/build-bench}"

only="on_demand_wait,hot_read,credential_store_get,herd,scale,startup,refresh_cpu"
iterations=200
latency_ms=50
scale_rigs=10000
scale_window_s=60
scale_large_rigs=100000
quick=0
while (($# > 0)); do
    case "$1" in
        --quick) quick=1; scale_rigs=1000; scale_window_s=10; scale_large_rigs=0; shift ;;
        --only) only="$2"; shift 2 ;;
        --iterations) iterations="$2"; shift 2 ;;
        --latency-ms) latency_ms="$2"; shift 2 ;;
        --scale-rigs) scale_rigs="$2"; shift 2 ;;
        --scale-window-s) scale_window_s="$2"; shift 2 ;;
        --scale-large-rigs) scale_large_rigs="$2"; shift 2 ;;
        --daemon) export CREDFS_DAEMON_BINARY="$(realpath "$2")"; shift 2 ;;
        *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON \
      -DCREDFS_BUILD_BENCH=ON >/dev/null
cmake --build "$build" --target benchmarks -j"$(nproc)"

results="$here/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$results"
rows="$results/table.md"
: >"$rows"
bin="$build/bench"
status=0
wants() { [[ ",$only," == *",$1,"* ]]; }
run() {  # run NAME JSON-BASENAME ARGS...
    local name="$1" out="$2"
    shift 2
    echo "== $name $*"
    "$bin/bench_$name" --json "$results/$out.json" --rows "$rows" "$@" || status=1
}

if wants on_demand_wait; then
    if ((quick)); then iterations=50; fi
    echo "== on_demand_wait --iterations $iterations --latency-ms $latency_ms"
    if "$bin/bench_on_demand_wait" --iterations "$iterations" --latency-ms "$latency_ms" \
        --json "$results/on_demand_wait.json"; then
        jq -r '"| on-demand wait | stale open p50 / p99 (ms), upstream \(.upstream_latency_ms) ms | \(.stale_open_read.p50_ms*10|round/10) / \(.stale_open_read.p99_ms*10|round/10) | | |\n| on-demand wait | upstream calls per stale window (max) | \(.upstream_calls_per_refresh_window.max) | 1 | \(if .upstream_calls_per_refresh_window.max == 1 then "met" else "missed" end) |"' \
            "$results/on_demand_wait.json" >>"$rows" || true
    else
        status=1
    fi
fi
if wants hot_read; then
    if ((quick)); then
        run hot_read hot_read --iterations 4000 --thread-iterations 400
    else
        run hot_read hot_read
    fi
fi
if wants credential_store_get; then
    if ((quick)); then
        run credential_store_get credential_store_get --runs 40
    else
        run credential_store_get credential_store_get --runs 200
    fi
fi
if wants herd; then
    rounds=5
    if ((quick)); then rounds=2; fi
    run herd herd-1000 --readers 1000 --latency-ms 200 --rounds "$rounds"
    # Below the daemon's 256 FUSE workers: no queueing in the kernel.
    run herd herd-200 --readers 200 --latency-ms 200 --rounds "$rounds"
fi
if wants scale; then
    # Idle: hour-long tokens, no refresh due in the window.
    run scale scale-idle --label "scale, idle" --rigs "$scale_rigs" \
        --window-s "$scale_window_s" --ttl-s 3600 --margin-s 600 --jitter-s 300
    # Busy: 120 s tokens refreshed every 60..100 s, staggered by the jitter
    # (--quick: 20 s tokens refreshed every 10..16 s, to fit its window).
    if ((quick)); then busy=(--ttl-s 20 --margin-s 4 --jitter-s 6); else
        busy=(--ttl-s 120 --margin-s 20 --jitter-s 40); fi
    run scale scale-refreshing --label "scale, refreshing" --rigs "$scale_rigs" \
        --window-s "$scale_window_s" "${busy[@]}"
    # Idle at issue 14's scale: its targets are under 0.5% of a core, 400 MB.
    if ((scale_large_rigs > 0)); then
        run scale scale-idle-large --label "scale, idle" --rigs "$scale_large_rigs" \
            --window-s "$scale_window_s" --ttl-s 3600 --margin-s 600 --jitter-s 300 \
            --rss-target-mb 400 --idle-cpu-target 0.5
    fi
fi
if wants startup; then
    if ((quick)); then
        run startup startup --iterations 5
    else
        run startup startup --iterations 20
    fi
fi

if wants refresh_cpu; then
    # 50 rigs on 3-s tokens: about 28 refreshes a second, over HTTP and HTTPS.
    window=30
    if ((quick)); then window=10; fi
    run refresh_cpu refresh_cpu-http --tls 0 --rigs 50 --ttl-s 3 --window-s "$window"
    run refresh_cpu refresh_cpu-https --tls 1 --rigs 50 --ttl-s 3 --window-s "$window"
    # The same with the mount's backing directory on tmpfs: the fallback
    # write's file creation, rename and fsync cost what the disk makes them.
    CREDFS_TEST_TMPDIR=/dev/shm run refresh_cpu refresh_cpu-https-tmpfs --tls 1 --rigs 50 \
        --ttl-s 3 --window-s "$window" --label "refresh_cpu, https, backing dir on tmpfs"
fi

echo
echo "daemon: ${CREDFS_DAEMON_BINARY:-$build/gastown-credfs}"
echo "| benchmark | metric | value | target | |"
echo "|---|---|---|---|---|"
cat "$rows"
echo
echo "results: $results"
exit "$status"
