// Thundering herd: N reader threads (default 1,000) open a stale rig at once
// while the fake upstream takes `latency` to answer. Single-flight should
// make that exactly one upstream call, and every reader should wait about one
// upstream latency. The daemon has at most 256 FUSE worker threads, so opens
// beyond that queue in the kernel until a worker is free; this shows what
// that costs.
//
// Tokens live 10 s and reads want 7 s, so a token is fresh for 3 s after it
// was issued (long enough for the whole herd to drain on the new token) and
// stale after; the background refresh (0.05 s before expiry) never fires
// during a round.
//
// Not a test: it prints numbers. bench/run.sh builds and runs it.
#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "daemon_harness.hpp"
#include "fake_gastown.hpp"

namespace {

using credfs::bench::Flags;
using credfs::bench::SteadyClock;
using credfs::bench::Summary;
using credfs::fakes::FakeGastown;
using credfs::fakes::WallClock;
using credfs::itest::DaemonHarness;
using credfs::itest::RefreshParams;
using namespace std::chrono_literals;

constexpr double kTtl = 10.0;
constexpr double kMinTtl = 7.0;

}  // namespace

int main(int argc, char** argv) {
    const Flags flags(argc, argv, {"readers", "latency-ms", "rounds"},
                      "bench_herd [--readers N] [--latency-ms N] [--rounds N]");
    const int readers = static_cast<int>(flags.number("readers", 1000, 1, 10000));
    const int latency_ms = static_cast<int>(flags.number("latency-ms", 200, 0, 5000));
    const int rounds = static_cast<int>(flags.number("rounds", 5, 1, 100));
    const std::string rows = flags.text("rows");
    const std::string jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.YmVuY2g";
    const unsigned long nofile =
        credfs::bench::raise_nofile(static_cast<unsigned long>(readers) + 512);

    FakeGastown fake(jwt);
    fake.set_ttl(kTtl);
    fake.set_latency(std::chrono::milliseconds(latency_ms));
    DaemonHarness harness;
    RefreshParams refresh;
    refresh.min_ttl_s = kMinTtl;
    refresh.margin_s = 0.05;
    refresh.jitter_s = 0;
    refresh.read_timeout_s = 10;
    harness.write_jwt(jwt);
    harness.write_config(fake.base_url(), refresh, {{"rig-a", ""}});
    credfs::bench::set_log_level(harness.config_path(), "info");
    if (const auto started = harness.start(); !started) {
        std::cerr << "bench_herd: " << started.message() << "\n";
        return 1;
    }
    const std::string file = harness.file("rig-a");
    if (!credfs::itest::wait_until([&] { return fake.latest("rig-a").has_value(); }, 10s)) {
        std::cerr << "bench_herd: the daemon fetched no token at startup\n";
        return 1;
    }

    // Per round and reader: when its open started (after the release) and
    // how long its open+read+close took.
    std::vector<double> wait_ms(static_cast<std::size_t>(readers));
    std::vector<double> start_ms(static_cast<std::size_t>(readers));
    std::atomic<int> done{0};
    std::atomic<long> errors{0};
    std::atomic<bool> quit{false};
    SteadyClock::time_point released{};
    std::barrier go(readers + 1);
    std::vector<std::thread> pool;
    pool.reserve(static_cast<std::size_t>(readers));
    for (int i = 0; i < readers; ++i) {
        pool.emplace_back([&, i] {
            std::array<char, 4096> buf{};
            while (true) {
                go.arrive_and_wait();
                if (quit.load()) return;
                const auto t0 = SteadyClock::now();
                const long n = credfs::bench::read_file(file, buf.data(), buf.size());
                wait_ms[static_cast<std::size_t>(i)] = credfs::bench::ms_since(t0);
                start_ms[static_cast<std::size_t>(i)] =
                    std::chrono::duration<double, std::milli>(t0 - released).count();
                if (n <= 0) errors.fetch_add(1);
                done.fetch_add(1);
            }
        });
    }

    std::vector<double> all_wait, all_release_to_done, arrival_spread;
    std::vector<int> calls_per_herd, short_per_round;
    long peak_threads = 0;
    int no_wait = 0;
    int within_target = 0;  // reads done within latency + 20 ms
    double daemon_cpu_s = 0;
    bool aborted = false;
    for (int r = 0; r < rounds && !aborted; ++r) {
        const bool stale = credfs::itest::wait_until(
            [&] {
                const auto t = fake.latest("rig-a");
                return !t ||
                       std::chrono::duration<double>(t->expires_at - WallClock::now()).count() <
                           kMinTtl - 0.005;
            },
            10s, 2ms);
        if (!stale) {
            std::cerr << "bench_herd: token never went stale\n";
            aborted = true;
            break;
        }
        const int calls_before = fake.calls();
        const double cpu_before = credfs::bench::cpu_seconds(harness.pid());
        done = 0;
        released = SteadyClock::now();
        go.arrive_and_wait();  // the herd goes
        const auto deadline = SteadyClock::now() + 60s;
        while (done.load() < readers && SteadyClock::now() < deadline) {
            peak_threads = std::max(peak_threads, credfs::bench::thread_count(harness.pid()));
            std::this_thread::sleep_for(2ms);
        }
        if (done.load() < readers) {
            std::cerr << "bench_herd: readers still blocked after 60 s\n";
            aborted = true;  // the harness's teardown unmounts and frees them
            break;
        }
        calls_per_herd.push_back(fake.calls() - calls_before);
        daemon_cpu_s += credfs::bench::cpu_seconds(harness.pid()) - cpu_before;
        double spread = 0;
        const int short_before = no_wait;
        for (int i = 0; i < readers; ++i) {
            const double w = wait_ms[static_cast<std::size_t>(i)];
            const double s = start_ms[static_cast<std::size_t>(i)];
            all_wait.push_back(w);
            all_release_to_done.push_back(s + w);
            spread = std::max(spread, s);
            if (w < latency_ms) ++no_wait;
            if (w < latency_ms + 20) ++within_target;
        }
        arrival_spread.push_back(spread);
        short_per_round.push_back(no_wait - short_before);
    }
    // On abort, stopping the daemon (and the harness's lazy unmount) fails
    // any open still blocked, so every reader gets back to the barrier.
    if (aborted) harness.stop();
    quit = true;
    go.arrive_and_wait();
    for (auto& th : pool) th.join();
    if (aborted) return 1;
    harness.stop();

    const Summary w = credfs::bench::summarize(all_wait);
    const Summary rd = credfs::bench::summarize(all_release_to_done);
    const Summary spread = credfs::bench::summarize(arrival_spread);
    const int max_calls = *std::max_element(calls_per_herd.begin(), calls_per_herd.end());
    const int min_calls = *std::min_element(calls_per_herd.begin(), calls_per_herd.end());
    std::ostringstream json;
    json << "{\n  \"benchmark\": \"herd\",\n"
         << "  \"readers\": " << readers << ",\n"
         << "  \"rounds\": " << calls_per_herd.size() << ",\n"
         << "  \"upstream_latency_ms\": " << latency_ms << ",\n"
         << "  \"rlimit_nofile\": " << nofile << ",\n"
         << "  \"errors\": " << errors.load() << ",\n"
         << "  \"upstream_calls_per_herd\": {\"min\": " << min_calls << ", \"max\": " << max_calls
         << "},\n"
         << "  \"reads_shorter_than_latency\": " << no_wait << ",\n"
         << "  \"reads_shorter_than_latency_per_round\": [";
    for (std::size_t i = 0; i < short_per_round.size(); ++i) {
        json << (i ? ", " : "") << short_per_round[i];
    }
    json << "],\n"
         << "  \"daemon_peak_threads\": " << peak_threads << ",\n"
         << "  \"reads_within_latency_plus_20ms\": " << within_target << ",\n"
         << "  \"daemon_cpu_ms_per_herd\": " << daemon_cpu_s * 1000 / calls_per_herd.size() << ",\n"
         << "  \"open_read_close\": " << credfs::bench::json_summary(w, "ms") << ",\n"
         << "  \"release_to_done\": " << credfs::bench::json_summary(rd, "ms") << ",\n"
         << "  \"arrival_spread\": " << credfs::bench::json_summary(spread, "ms") << "\n}\n";

    std::cout << "herd (" << readers << " readers x " << calls_per_herd.size()
              << " rounds on a stale rig, upstream latency " << latency_ms << " ms; "
              << errors.load() << " errors; daemon peak " << peak_threads << " threads; " << no_wait
              << " reads shorter than the latency)\n";
    using credfs::bench::fixed;
    using credfs::bench::table_row;
    const std::string herd = "herd (" + std::to_string(readers) + " readers)";
    table_row(rows, herd, "upstream calls per herd (min / max)",
              std::to_string(min_calls) + " / " + std::to_string(max_calls), "1",
              credfs::bench::verdict(min_calls == 1 && max_calls == 1));
    table_row(rows, herd, "wait minus latency p50 / p99 (ms)",
              fixed(w.p50 - latency_ms, 1) + " / " + fixed(w.p99 - latency_ms, 1), "p99 < 20 ms",
              credfs::bench::verdict(w.p99 - latency_ms < 20));
    table_row(rows, herd, "release to done minus latency p50 / p99 (ms)",
              fixed(rd.p50 - latency_ms, 1) + " / " + fixed(rd.p99 - latency_ms, 1), "", "");
    table_row(rows, herd, "reads done within latency + 20 ms",
              std::to_string(within_target) + " of " + std::to_string(all_wait.size()), "", "");
    table_row(rows, herd, "daemon CPU per herd (ms)",
              fixed(daemon_cpu_s * 1000 / static_cast<double>(calls_per_herd.size()), 1), "", "");
    table_row(rows, herd, "arrival spread (last open started, ms, mean)", fixed(spread.mean, 1), "",
              "");
    if (!credfs::bench::write_json(flags.text("json"), json.str())) {
        std::cerr << "bench_herd: cannot write " << flags.text("json") << "\n";
        return 1;
    }
    return errors.load() == 0 ? 0 : 1;
}
