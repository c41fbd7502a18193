// Hot read: open()+read()-to-EOF+close() of a fresh rig file through the
// mount, against the same bytes in a file on tmpfs (/dev/shm), from 1 thread
// and from N threads (default 16), in the same run. Tokens live an hour and
// reads want 300 s, so every read is served from memory: no upstream call.
// The two targets alternate in rounds so machine noise hits both alike.
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
using credfs::itest::DaemonHarness;
using credfs::itest::RefreshParams;
using namespace std::chrono_literals;

struct Result {
    std::vector<double> us;
    long errors = 0;
    double wall_s = 0;  ///< From the threads' start to the last one's end.
};

/// `threads` threads each do `iterations` timed reads of `path`, started
/// together; every sample is one open+read+close in microseconds.
Result measure(const std::string& path, int threads, int iterations, long expected_size) {
    std::vector<std::vector<double>> per_thread(static_cast<std::size_t>(threads));
    std::atomic<long> errors{0};
    std::barrier start(threads);
    std::vector<std::thread> pool;
    SteadyClock::time_point began{};
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            auto& out = per_thread[static_cast<std::size_t>(t)];
            out.reserve(static_cast<std::size_t>(iterations));
            std::array<char, 4096> buf{};
            start.arrive_and_wait();
            if (t == 0) began = SteadyClock::now();
            for (int i = 0; i < iterations; ++i) {
                const auto t0 = SteadyClock::now();
                const long n = credfs::bench::read_file(path, buf.data(), buf.size());
                out.push_back(credfs::bench::us_since(t0));
                if (n != expected_size) errors.fetch_add(1);
            }
        });
    }
    for (auto& th : pool) th.join();
    Result r;
    r.wall_s = credfs::bench::us_since(began) / 1e6;
    for (auto& v : per_thread) r.us.insert(r.us.end(), v.begin(), v.end());
    r.errors = errors.load();
    return r;
}

struct Pair {
    Result mount, tmpfs;
};

/// Alternates mount and tmpfs in `rounds` rounds (which goes first flips
/// each round), `iterations` reads per thread in all.
Pair run_pair(const std::string& mount_file, const std::string& tmpfs_file, int threads,
              int iterations, int rounds, long size) {
    Pair p;
    const int per_round = std::max(1, iterations / rounds);
    for (int r = 0; r < rounds; ++r) {
        for (int k = 0; k < 2; ++k) {
            const bool mount = (r + k) % 2 == 0;
            Result got = measure(mount ? mount_file : tmpfs_file, threads, per_round, size);
            Result& into = mount ? p.mount : p.tmpfs;
            into.us.insert(into.us.end(), got.us.begin(), got.us.end());
            into.errors += got.errors;
            into.wall_s += got.wall_s;
        }
    }
    return p;
}

}  // namespace

int main(int argc, char** argv) {
    const Flags flags(argc, argv, {"iterations", "threads", "thread-iterations", "rounds"},
                      "bench_hot_read [--iterations N] [--threads N] [--thread-iterations N] "
                      "[--rounds N]");
    const int iterations = static_cast<int>(flags.number("iterations", 20000, 10, 1e7));
    const int threads = static_cast<int>(flags.number("threads", 16, 2, 1024));
    const int thread_iterations =
        static_cast<int>(flags.number("thread-iterations", 2000, 10, 1e7));
    const int rounds = static_cast<int>(flags.number("rounds", 4, 1, 100));
    const std::string rows = flags.text("rows");
    const std::string jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.YmVuY2g";

    FakeGastown fake(jwt);
    fake.set_ttl(3600);
    DaemonHarness harness;
    RefreshParams refresh;  // margin 600 s, min_ttl 300 s: an hour's token is fresh
    const auto first = credfs::bench::mount_one_rig(harness, fake, jwt, refresh, "bench_hot_read");
    if (!first) return 1;
    const std::string mount_file = harness.file("rig-a");
    const credfs::bench::TmpfsDir tmpfs;
    const std::string tmpfs_file = tmpfs.write("rig-a", *first);
    const long size = static_cast<long>(first->size());

    // Warm both paths (dentry caches, the daemon's worker threads).
    measure(mount_file, threads, 200, size);
    measure(tmpfs_file, threads, 200, size);
    // FUSE requests per open+read+close: the daemon reads /dev/fuse once per
    // request (nothing else it does reads while idle).
    constexpr int kCounted = 2000;
    const long syscr_before = credfs::bench::read_syscalls(harness.pid());
    measure(mount_file, 1, kCounted, size);
    const double requests_per_read =
        static_cast<double>(credfs::bench::read_syscalls(harness.pid()) - syscr_before) / kCounted;
    const int calls_before = fake.calls();
    // The daemon's CPU per open (only mount reads reach it): less sensitive
    // to other load on the machine than latency is.
    const double cpu0 = credfs::bench::cpu_seconds(harness.pid());
    const Pair single = run_pair(mount_file, tmpfs_file, 1, iterations, rounds, size);
    const double cpu1 = credfs::bench::cpu_seconds(harness.pid());
    const Pair multi = run_pair(mount_file, tmpfs_file, threads, thread_iterations, rounds, size);
    const double cpu2 = credfs::bench::cpu_seconds(harness.pid());
    const double cpu_us_single = (cpu1 - cpu0) * 1e6 / static_cast<double>(single.mount.us.size());
    const double cpu_us_multi = (cpu2 - cpu1) * 1e6 / static_cast<double>(multi.mount.us.size());
    const int upstream_calls = fake.calls() - calls_before;
    const long daemon_threads = credfs::bench::thread_count(harness.pid());
    harness.stop();

    const Summary s_m = credfs::bench::summarize(single.mount.us);
    const Summary s_t = credfs::bench::summarize(single.tmpfs.us);
    const Summary m_m = credfs::bench::summarize(multi.mount.us);
    const Summary m_t = credfs::bench::summarize(multi.tmpfs.us);
    const long errors =
        single.mount.errors + single.tmpfs.errors + multi.mount.errors + multi.tmpfs.errors;

    std::ostringstream json;
    json << "{\n  \"benchmark\": \"hot_read\",\n"
         << "  \"iterations_single\": " << iterations << ",\n"
         << "  \"threads\": " << threads << ",\n"
         << "  \"iterations_per_thread\": " << thread_iterations << ",\n"
         << "  \"rounds\": " << rounds << ",\n"
         << "  \"errors\": " << errors << ",\n"
         << "  \"upstream_calls_during_measurement\": " << upstream_calls << ",\n"
         << "  \"daemon_threads_after\": " << daemon_threads << ",\n"
         << "  \"fuse_requests_per_open_read_close\": " << requests_per_read << ",\n"
         << "  \"daemon_cpu_us_per_open\": {\"single\": " << cpu_us_single
         << ", \"multi\": " << cpu_us_multi << "},\n"
         << "  \"single\": {\"mount\": " << credfs::bench::json_summary(s_m, "us")
         << ", \"tmpfs\": " << credfs::bench::json_summary(s_t, "us")
         << ", \"ratio_p50\": " << s_m.p50 / s_t.p50 << ", \"ratio_p99\": " << s_m.p99 / s_t.p99
         << "},\n"
         << "  \"multi\": {\"mount\": " << credfs::bench::json_summary(m_m, "us")
         << ", \"tmpfs\": " << credfs::bench::json_summary(m_t, "us")
         << ", \"ratio_p50\": " << m_m.p50 / m_t.p50 << ", \"ratio_p99\": " << m_m.p99 / m_t.p99
         << "}\n}\n";

    std::cout << "hot read (open+read+close of a fresh rig file; " << errors << " errors, "
              << upstream_calls << " upstream calls while measuring)\n";
    using credfs::bench::fixed;
    using credfs::bench::table_row;
    const auto report = [&](const std::string& label, const Pair& p, const Summary& m,
                            const Summary& t) {
        const double ratio = m.p50 / t.p50;
        table_row(rows, "hot read", label + " p50 mount / tmpfs (µs)",
                  fixed(m.p50, 1) + " / " + fixed(t.p50, 1), "< 50 µs",
                  credfs::bench::verdict(m.p50 < 50));
        table_row(rows, "hot read", label + " p99 mount / tmpfs (µs)",
                  fixed(m.p99, 1) + " / " + fixed(t.p99, 1), "", "");
        table_row(rows, "hot read", label + " p50 ratio mount/tmpfs", fixed(ratio, 1) + "x",
                  "< 10x", credfs::bench::verdict(ratio < 10));
        table_row(rows, "hot read", label + " throughput mount / tmpfs (opens/s)",
                  fixed(static_cast<double>(p.mount.us.size()) / p.mount.wall_s, 0) + " / " +
                      fixed(static_cast<double>(p.tmpfs.us.size()) / p.tmpfs.wall_s, 0),
                  "", "");
    };
    table_row(rows, "hot read", "FUSE requests per open+read+close", fixed(requests_per_read, 2),
              "", "");
    table_row(rows, "hot read",
              "daemon CPU per open, 1 / " + std::to_string(threads) + " threads (µs)",
              fixed(cpu_us_single, 1) + " / " + fixed(cpu_us_multi, 1), "", "");
    report("1 thread", single, s_m, s_t);
    report(std::to_string(threads) + " threads", multi, m_m, m_t);
    if (!credfs::bench::write_json(flags.text("json"), json.str())) {
        std::cerr << "bench_hot_read: cannot write " << flags.text("json") << "\n";
        return 1;
    }
    return errors == 0 ? 0 : 1;
}
