// The refresh pool under a burst (issue #14, item 2): many rigs stale at once
// behind a hung upstream queue more refreshes than the pool has workers. A
// SIGTERM must not wait for every queued one to time out in turn.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

constexpr int kRigs = 64;  // four times the pool's 16 workers
// The pool's workers (RefreshPool::kDefaultBackgroundWorkers + kDefaultUrgentReserve):
// at most this many refreshes can be running when the SIGTERM comes.
constexpr int kWorkers = 16;

class RefreshPoolAttackTest : public MountTest {};

// 64 rigs without a token, a reader on each, the upstream hanging: 16
// refreshes hang, 48 wait in the pool's queue. After SIGTERM only the ones
// already running may reach the upstream; the queued ones end without a
// call, so the daemon exits within one request timeout instead of four.
TEST_F(RefreshPoolAttackTest, SigtermDuringABurstBehindAHungUpstreamSendsNoQueuedRefresh) {
    fake_.set_fault(fakes::Fault::Hang);
    harness_.allow_log_line("open fails with EIO");
    RefreshParams refresh;
    refresh.read_timeout_s = 1;
    std::vector<RigSpec> rigs;
    for (int i = 0; i < kRigs; ++i) rigs.push_back({"rig-" + std::to_string(i), ""});
    ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, rigs));

    std::vector<std::thread> readers;
    std::atomic<int> failed{0};
    for (int i = 0; i < kRigs; ++i) {
        readers.emplace_back([&, i] {
            if (read_whole_file(harness_.file("rig-" + std::to_string(i))).error != 0) ++failed;
        });
    }
    for (auto& t : readers) t.join();
    EXPECT_EQ(failed.load(), kRigs);  // no token anywhere: EIO after read_timeout_s

    harness_.stop();
    ASSERT_TRUE(harness_.exit_status().has_value());
    const std::string log = harness_.run_log_text();
    const size_t unmounted = log.find(" unmounted ");
    ASSERT_NE(unmounted, std::string::npos) << "the daemon did not unmount on SIGTERM";
    // Refreshes that ended after the unmount: those running at SIGTERM may,
    // a queued one must not have been sent at all.
    int after = 0;
    std::istringstream lines(log.substr(unmounted));
    for (std::string line; std::getline(lines, line);) {
        if (line.find("refresh-git-token") != std::string::npos) ++after;
    }
    EXPECT_LE(after, kWorkers) << after << " upstream calls ended after the unmount";
}

}  // namespace
}  // namespace credfs::itest
