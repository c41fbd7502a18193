// Concurrency stress (issue #7): 64 threads reading and rewriting across 100
// rigs for 30 s while about one refresh in three fails. A watchdog fails the
// test if the workers stop making progress (a deadlock) instead of letting it
// hang; every read must be a token the upstream issued for that rig and that
// had not expired when the read began.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

constexpr int kRigs = 100;
constexpr int kThreads = 64;
constexpr auto kDuration = 30s;

std::string rig_name(int i) {
    char name[16];
    std::snprintf(name, sizeof name, "rig-%03d", i);
    return name;
}

class StressTest : public MountTest {
  protected:
    struct Counts {
        std::atomic<long> reads{0}, rewrites{0}, busy_locks{0}, bad_reads{0}, rewrite_errors{0};
        std::atomic<long> progress{0};
    };
    std::mutex bad_mu_;
    std::vector<std::string> bad_examples_;

    /// git's store dance, done with syscalls so 64 threads can keep it up:
    /// O_EXCL lock file, the new content, rename over the rig file. One in 20
    /// is an erase (the rig's line dropped), which forces a refresh.
    void rewrite(const std::string& rig, bool erase, Counts& counts) {
        const std::string lock = harness_.file(rig + ".lock");
        const int fd = ::open(lock.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
        if (fd < 0) {
            ++(errno == EEXIST ? counts.busy_locks : counts.rewrite_errors);
            return;
        }
        const std::string content =
            std::string(erase ? "" : "https://x-access-token:ghs_written@github.com\n") +
            "https://u:p@other.example\n";
        const bool wrote =
            ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
        ::close(fd);
        if (!wrote || ::rename(lock.c_str(), harness_.file(rig).c_str()) != 0) {
            ::unlink(lock.c_str());
            ++counts.rewrite_errors;
            return;
        }
        ++counts.rewrites;
    }

    /// Empty when the read gave a token the upstream issued for `rig` that
    /// had not expired when the read began; else what was wrong.
    std::string check_read(const std::string& rig) {
        const auto started = fakes::WallClock::now();
        const ReadResult r = read_whole_file(harness_.file(rig));
        if (r.error != 0) return rig + ": " + std::strerror(r.error);
        const auto token = token_from_line(r.data.substr(0, r.data.find('\n') + 1));
        if (!token) return rig + ": no credential line first";
        for (const auto& issued : fake_.issued(rig)) {
            if (issued.token != *token) continue;
            if (issued.expires_at >= started) return "";
            return rig + ": served a token " +
                   std::to_string(
                       std::chrono::duration<double>(started - issued.expires_at).count()) +
                   " s after it expired";
        }
        return rig + ": a token the upstream never issued for it";
    }

    void record_bad_read(const std::string& why, Counts& counts) {
        ++counts.bad_reads;
        std::lock_guard lock(bad_mu_);
        if (bad_examples_.size() < 5) bad_examples_.push_back(why);
    }

    void worker(unsigned seed, fakes::SteadyClock::time_point end, Counts& counts) {
        std::mt19937 rng(seed);
        std::uniform_int_distribution<int> pick_rig(0, kRigs - 1);
        std::uniform_int_distribution<int> pick_op(0, 79);
        while (fakes::SteadyClock::now() < end) {
            const std::string rig = rig_name(pick_rig(rng));
            const int op = pick_op(rng);
            if (op < 60) {
                ++counts.reads;
                if (const std::string why = check_read(rig); !why.empty()) {
                    record_bad_read(why, counts);
                }
            } else {
                rewrite(rig, op == 79, counts);
            }
            ++counts.progress;
        }
    }
};

TEST_F(StressTest, SixtyFourThreadsReadAndRewriteAHundredRigsWhileRefreshesFail) {
    fake_.set_ttl(6);
    RefreshParams refresh;
    refresh.margin_s = 3;
    refresh.min_ttl_s = 1;
    refresh.jitter_s = 1;
    refresh.read_timeout_s = 5;
    refresh.backoff_initial_s = 0.2;
    refresh.backoff_max_s = 1;
    std::vector<RigSpec> rigs;
    for (int i = 0; i < kRigs; ++i) rigs.push_back({rig_name(i), ""});
    ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, rigs));
    for (int i = 0; i < kRigs; ++i) ASSERT_TRUE(wait_for_token(rig_name(i), 30s)) << rig_name(i);

    Counts counts;
    const auto end = fakes::SteadyClock::now() + kDuration;
    std::atomic<bool> stop_faults{false};
    // One refresh in three fails: two calls answered, then one 503.
    std::thread faults([&] {
        int next = fake_.calls() + 2;
        while (!stop_faults) {
            if (wait_until([&] { return stop_faults || fake_.calls() >= next; }, 60s) &&
                !stop_faults) {
                fake_.force_status(503, 1);
                next = fake_.calls() + 2;
            }
        }
    });
    std::vector<std::thread> workers;
    std::atomic<int> finished{0};
    for (int t = 0; t < kThreads; ++t) {
        workers.emplace_back([&, t] {
            worker(static_cast<unsigned>(t) * 7919U + 1U, end, counts);
            ++finished;
        });
    }
    // Watchdog: progress must never stall for 20 s, and the workers must end
    // soon after the deadline; otherwise stop the daemon so the stuck ones
    // return (ENOTCONN) and the test reports instead of hanging.
    bool stalled = false;
    while (finished.load() < kThreads && !stalled) {
        const long before = counts.progress.load();
        stalled = !wait_until(
            [&] { return finished.load() == kThreads || counts.progress.load() != before; }, 20s);
    }
    if (stalled) {
        ADD_FAILURE() << "no progress for 20 s: deadlock? " << finished.load() << " of " << kThreads
                      << " workers done\n"
                      << harness_.diagnostics();
        harness_.stop();
    }
    for (auto& w : workers) w.join();
    stop_faults = true;
    faults.join();

    const int failed_refreshes = fake_.calls() - fake_.issued().size();
    std::printf(
        "stress: %ld reads, %ld rewrites (%ld lock busy, %ld errors), %ld bad reads; %d upstream "
        "calls, about %d failed\n",
        counts.reads.load(), counts.rewrites.load(), counts.busy_locks.load(),
        counts.rewrite_errors.load(), counts.bad_reads.load(), fake_.calls(), failed_refreshes);
    RecordProperty("reads", static_cast<int>(counts.reads.load()));
    RecordProperty("rewrites", static_cast<int>(counts.rewrites.load()));
    EXPECT_EQ(counts.bad_reads.load(), 0);
    for (const auto& why : bad_examples_) ADD_FAILURE() << "bad read: " << why;
    EXPECT_EQ(counts.rewrite_errors.load(), 0);
    EXPECT_GT(counts.reads.load(), kThreads * 10L) << "too few reads to prove anything";
    EXPECT_GT(counts.rewrites.load(), 100L);
    EXPECT_GT(failed_refreshes, 10) << "the fault injection did not bite";
    EXPECT_TRUE(harness_.alive());
}

}  // namespace
}  // namespace credfs::itest
