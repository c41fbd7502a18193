// RefreshPool: few long-lived workers, background work bounded, a reader's
// refresh never queued behind it, a clean stop, the stop signals blocked.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "credfs/engine/refresh_pool.hpp"
#include "credfs/engine/rig.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

using Lane = RefreshPool::Lane;
using test::eventually;

/// Jobs that block until opened; counts how many run at once and records
/// the order they started in.
class Gate {
  public:
    std::function<void()> job(std::string name, bool blocks = true) {
        return [this, name = std::move(name), blocks] {
            std::unique_lock lock(mu_);
            started_.push_back(name);
            ++running_;
            max_running_ = std::max(max_running_, running_);
            cv_.notify_all();
            if (blocks) cv_.wait(lock, [this] { return open_; });
            --running_;
            ++finished_;
            cv_.notify_all();
        };
    }
    void open() {
        std::lock_guard lock(mu_);
        open_ = true;
        cv_.notify_all();
    }
    /// Waits (real time, generous deadline) until `pred` holds under the lock.
    template <class Pred>
    bool wait(Pred pred) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return pred(*this); });
    }
    int running() const { return running_; }
    int max_running() const { return max_running_; }
    int finished() const { return finished_; }
    const std::vector<std::string>& started() const { return started_; }
    bool has_started(const std::string& name) const {
        return std::find(started_.begin(), started_.end(), name) != started_.end();
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool open_ = false;
    int running_ = 0;
    int max_running_ = 0;
    int finished_ = 0;
    std::vector<std::string> started_;
};

TEST(RefreshPoolTest, SequentialJobsReuseOneWorker) {
    std::atomic<int> done{0};
    RefreshPool pool(4, 4);
    for (int i = 0; i < 50; ++i) {
        pool.submit(i % 2 == 0 ? Lane::Background : Lane::Urgent, [&] { ++done; });
        ASSERT_TRUE(eventually([&] { return done == i + 1 && pool.running() == 0; }));
    }
    EXPECT_EQ(pool.workers(), 1U);
}

TEST(RefreshPoolTest, AtMostTheBackgroundWorkersRunBackgroundJobsAtOnce) {
    Gate gate;  // before the pool: its jobs may use it until the pool is gone
    RefreshPool pool(2, 3);
    for (int i = 0; i < 6; ++i) pool.submit(Lane::Background, gate.job("b" + std::to_string(i)));
    ASSERT_TRUE(gate.wait([](const Gate& g) { return g.running() == 2; }));
    gate.open();
    ASSERT_TRUE(gate.wait([](const Gate& g) { return g.finished() == 6; }));
    EXPECT_EQ(gate.max_running(), 2);
    EXPECT_LE(pool.workers(), 5U);
}

TEST(RefreshPoolTest, AnUrgentJobRunsWhileEveryBackgroundWorkerIsStuck) {
    Gate gate;
    RefreshPool pool(2, 1);
    for (int i = 0; i < 4; ++i) pool.submit(Lane::Background, gate.job("b" + std::to_string(i)));
    ASSERT_TRUE(gate.wait([](const Gate& g) { return g.running() == 2; }));
    pool.submit(Lane::Urgent, gate.job("reader", false));
    // Ran and finished while both background jobs still hang.
    EXPECT_TRUE(gate.wait([](const Gate& g) { return g.finished() == 1; }));
    EXPECT_TRUE(gate.has_started("reader"));
    gate.open();
    ASSERT_TRUE(gate.wait([](const Gate& g) { return g.finished() == 5; }));
}

TEST(RefreshPoolTest, UrgentJobsAreTakenBeforeQueuedBackgroundJobs) {
    Gate background_gate;
    Gate reader_gate;
    std::vector<std::string> order;
    std::mutex order_mu;
    RefreshPool pool(1, 1);  // two workers
    auto note = [&](const std::string& name) {
        return [&, name] {
            std::lock_guard lock(order_mu);
            order.push_back(name);
        };
    };
    pool.submit(Lane::Background, background_gate.job("b1"));
    pool.submit(Lane::Urgent, reader_gate.job("u1"));
    ASSERT_TRUE(background_gate.wait([](const Gate& g) { return g.running() == 1; }));
    ASSERT_TRUE(reader_gate.wait([](const Gate& g) { return g.running() == 1; }));
    pool.submit(Lane::Background, note("b2"));
    pool.submit(Lane::Urgent, note("u2"));
    // The one worker freed takes the urgent job first, though it came last.
    background_gate.open();
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(order_mu);
        return order.size() == 2;
    }));
    EXPECT_EQ(order, (std::vector<std::string>{"u2", "b2"}));
    reader_gate.open();
}

TEST(RefreshPoolTest, APromotedBackgroundJobRunsOnTheReserve) {
    Gate gate;
    RefreshPool pool(1, 1);
    pool.submit(Lane::Background, gate.job("b1"));
    ASSERT_TRUE(gate.wait([](const Gate& g) { return g.running() == 1; }));
    const RefreshPool::Ticket queued = pool.submit(Lane::Background, gate.job("b2", false));
    pool.promote(queued);
    EXPECT_TRUE(gate.wait([](const Gate& g) { return g.finished() == 1; }));
    EXPECT_TRUE(gate.has_started("b2"));
    gate.open();
    ASSERT_TRUE(gate.wait([](const Gate& g) { return g.finished() == 2; }));
    EXPECT_EQ(gate.started(), (std::vector<std::string>{"b1", "b2"}));  // ran once
}

TEST(RefreshPoolTest, StopRunsEveryQueuedJobThenJoinsAndRefusesMore) {
    std::atomic<int> done{0};
    RefreshPool pool(1, 1);
    for (int i = 0; i < 20; ++i) pool.submit(Lane::Background, [&] { ++done; });
    pool.stop();
    EXPECT_EQ(done.load(), 20);
    EXPECT_EQ(pool.workers(), 0U);
    EXPECT_THROW(pool.submit(Lane::Urgent, [] {}), std::logic_error);
    pool.stop();  // idempotent
}

TEST(RefreshPoolTest, WorkersBlockTheStopSignalsAndSighup) {
    // Submitted from a thread that takes them, as a FUSE worker does.
    sigset_t none;
    sigemptyset(&none);
    sigset_t old;
    ASSERT_EQ(pthread_sigmask(SIG_SETMASK, &none, &old), 0);
    RefreshPool pool(1, 1);
    sigset_t seen;
    sigemptyset(&seen);
    std::atomic<bool> ran{false};
    pool.submit(Lane::Urgent, [&] {
        pthread_sigmask(SIG_BLOCK, nullptr, &seen);
        ran = true;
    });
    pool.stop();
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ASSERT_TRUE(ran.load());
    for (const int sig : {SIGTERM, SIGINT, SIGQUIT, SIGHUP}) {
        EXPECT_EQ(sigismember(&seen, sig), 1) << "signal " << sig;
    }
}

TEST(RefreshPoolTest, AJobThatThrowsLeavesItsWorkerServing) {
    std::atomic<bool> ran{false};
    RefreshPool pool(1, 1);
    pool.submit(Lane::Background, [] { throw std::runtime_error("boom"); });
    pool.submit(Lane::Background, [&] { ran = true; });
    pool.stop();
    EXPECT_TRUE(ran.load());
}

/// Rigs on one pool: a reader's refresh joins a background one still queued
/// and is not left behind the background work that holds the pool.
TEST(RefreshPoolTest, AReaderJoiningAQueuedBackgroundRefreshPromotesIt) {
    test::FakeClock clock;
    test::FakeSource source(clock, 60);
    RefreshConfig refresh;
    RigConfig a_config;
    a_config.id = a_config.file = "a";
    RigConfig b_config;
    b_config.id = b_config.file = "b";
    RefreshPool pool(1, 1);
    Rig a(a_config, source, refresh, clock, [] { return 0.0; });
    Rig b(b_config, source, refresh, clock, [] { return 0.0; });
    a.set_refresh_pool(&pool);
    b.set_refresh_pool(&pool);
    source.hold();
    auto a_flight = a.refresh_async(RefreshTrigger::Background);
    ASSERT_TRUE(source.wait_for_waiting(1));  // a's fetch holds the background lane
    auto b_background = b.refresh_async(RefreshTrigger::Background);
    auto b_reader = b.refresh_async(RefreshTrigger::OnDemand);  // joins, one flight
    EXPECT_TRUE(source.wait_for_waiting(2)) << "b's refresh waited behind a's";
    source.release();
    a_flight.wait();
    b_background.wait();
    b_reader.wait();
    EXPECT_EQ(source.calls(), 2);
    EXPECT_TRUE(a.current() && b.current());
}

}  // namespace
}  // namespace credfs
