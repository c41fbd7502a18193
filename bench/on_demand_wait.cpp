// How long does a reader wait when its rig's token is stale?
//
// Runs the real daemon on a temp mount against the in-process fake upstream
// with a fixed answer latency, makes the token stale before every sample
// (tokens live 2 s, readers want 1.9 s: a token is stale 0.1 s after issue),
// and times open()+read() of the rig file. That is the on-demand path: one
// upstream round trip plus the daemon's own overhead. A read right after each
// refresh is timed too, as the fresh-path baseline. The number of upstream
// calls per stale window shows single-flight and the absence of spinning:
// it should be exactly 1.
//
// Not a test: it prints numbers. bench/run.sh builds and runs it.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "daemon_harness.hpp"
#include "fake_gastown.hpp"

namespace {

using credfs::bench::ms_since;
using credfs::bench::SteadyClock;
using credfs::bench::summarize;
using credfs::bench::Summary;
using credfs::fakes::FakeGastown;
using credfs::fakes::WallClock;
using credfs::itest::DaemonHarness;
using credfs::itest::RefreshParams;
using namespace std::chrono_literals;

struct Options {
    int iterations = 200;
    int latency_ms = 50;
    std::string json_path;
};

Options parse_args(int argc, char** argv) {
    Options opts;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (i + 1 >= argc) {
            std::cerr << "usage: bench_on_demand_wait [--iterations N] [--latency-ms N] "
                         "[--json PATH]\n";
            std::exit(2);
        }
        const std::string value = argv[++i];
        if (flag == "--iterations") {
            opts.iterations = std::max(1, std::atoi(value.c_str()));
        } else if (flag == "--latency-ms") {
            opts.latency_ms = std::max(0, std::atoi(value.c_str()));
        } else if (flag == "--json") {
            opts.json_path = value;
        } else {
            std::cerr << "bench_on_demand_wait: unknown flag " << flag << "\n";
            std::exit(2);
        }
    }
    return opts;
}

}  // namespace

int main(int argc, char** argv) {
    const Options opts = parse_args(argc, argv);
    const std::string jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.YmVuY2g";
    constexpr double kTtl = 2.0;
    constexpr double kMinTtl = 1.9;

    FakeGastown fake(jwt);
    fake.set_ttl(kTtl);
    fake.set_latency(std::chrono::milliseconds(opts.latency_ms));
    DaemonHarness harness;
    RefreshParams refresh;
    refresh.min_ttl_s = kMinTtl;
    // The background refresh would fire 0.05 s before expiry; every sample is
    // taken long before that, so only on-demand refreshes are measured.
    refresh.margin_s = 0.05;
    refresh.jitter_s = 0;
    refresh.read_timeout_s = 5;
    harness.write_jwt(jwt);
    harness.write_config(fake.base_url(), refresh, {{"rig-a", ""}});
    if (const auto started = harness.start(); !started) {
        std::cerr << "bench_on_demand_wait: " << started.message() << "\n";
        return 1;
    }
    const std::string file = harness.file("rig-a");
    // The first sample must not race the daemon's startup fetch.
    if (!credfs::itest::wait_until([&] { return fake.latest("rig-a").has_value(); }, 10s)) {
        std::cerr << "bench_on_demand_wait: the daemon fetched no token at startup\n";
        return 1;
    }

    std::vector<double> stale_ms, fresh_ms, calls_per_window;
    int failures = 0;
    int served_without_refresh = 0;
    for (int i = 0; i < opts.iterations; ++i) {
        // Wait, by the fake's clock, until the token the daemon holds is stale.
        const bool stale = credfs::itest::wait_until(
            [&] {
                const auto t = fake.latest("rig-a");
                return !t ||
                       std::chrono::duration<double>(t->expires_at - WallClock::now()).count() <
                           kMinTtl - 0.005;
            },
            10s, 2ms);
        if (!stale) {
            std::cerr << "bench_on_demand_wait: token never went stale\n";
            return 1;
        }
        const int calls_before = fake.calls();
        auto t0 = SteadyClock::now();
        const auto r = credfs::itest::read_whole_file(file);
        const double stale_read = ms_since(t0);
        if (r.error != 0) {
            ++failures;
            std::cerr << "sample " << i << ": " << std::strerror(r.error) << "\n";
            continue;
        }
        const int calls = fake.calls() - calls_before;
        calls_per_window.push_back(calls);
        // A read that caused no upstream call did not wait for a refresh;
        // keep it out of the on-demand latency.
        if (calls == 0) {
            ++served_without_refresh;
        } else {
            stale_ms.push_back(stale_read);
        }
        t0 = SteadyClock::now();
        const auto again = credfs::itest::read_whole_file(file);
        const double fresh_read = ms_since(t0);
        if (again.error == 0) fresh_ms.push_back(fresh_read);
    }
    harness.stop();

    const Summary stale = summarize(stale_ms);
    const Summary fresh = summarize(fresh_ms);
    const Summary calls = summarize(calls_per_window);
    std::ostringstream json;
    json << "{\n  \"benchmark\": \"on_demand_wait\",\n"
         << "  \"iterations\": " << opts.iterations << ",\n"
         << "  \"upstream_latency_ms\": " << opts.latency_ms << ",\n"
         << "  \"failures\": " << failures << ",\n"
         << "  \"stale_reads_without_upstream_call\": " << served_without_refresh << ",\n"
         << "  \"stale_open_read\": " << credfs::bench::json_summary(stale, "ms") << ",\n"
         << "  \"fresh_open_read\": " << credfs::bench::json_summary(fresh, "ms") << ",\n"
         << "  \"upstream_calls_per_refresh_window\": {\"mean\": " << calls.mean
         << ", \"max\": " << calls.max << "},\n"
         << "  \"upstream_calls_total\": " << fake.calls() << "\n}\n";

    std::cout << "on-demand wait (open+read of a stale rig, upstream latency " << opts.latency_ms
              << " ms, " << stale_ms.size() << " samples, " << failures << " failures)\n"
              << "  stale: p50 " << stale.p50 << " ms, p99 " << stale.p99 << " ms, max "
              << stale.max << " ms\n"
              << "  fresh: p50 " << fresh.p50 << " ms, p99 " << fresh.p99 << " ms\n"
              << "  upstream calls per refresh window: mean " << calls.mean << ", max " << calls.max
              << "\n";
    if (!opts.json_path.empty()) {
        std::ofstream out(opts.json_path);
        out << json.str();
        if (!out) {
            std::cerr << "bench_on_demand_wait: cannot write " << opts.json_path << "\n";
            return 1;
        }
    } else {
        std::cout << json.str();
    }
    return failures == 0 ? 0 : 1;
}
