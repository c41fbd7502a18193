#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include "credfs/engine/refresh_scheduler.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

using test::all_idle;
using test::eventually;
using test::FakeClock;
using test::FakeSource;
using test::rigs_config;

TEST(RefreshScheduler, StartsDueRigsAndReportsTheNextDueTime) {
    FakeClock clock;
    FakeSource source(clock, 60);
    Config config = rigs_config({"a", "b", "c"});
    RefreshScheduler scheduler(clock);
    RigRegistry registry(
        config, source, clock, [] { return 0.0; }, scheduler.notifier());
    // Nothing fetched yet: every rig is due now.
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 3; }));
    const WallTime next = scheduler.run_due(registry, clock.now());
    EXPECT_NEAR(seconds_between(clock.now(), next), 40, 1e-6);
    EXPECT_EQ(source.calls(), 3);
}

TEST(RefreshScheduler, LimitsConcurrentBackgroundRefreshes) {
    FakeClock clock;
    FakeSource source(clock, 60);
    Config config = rigs_config({"a", "b", "c"});
    RefreshScheduler scheduler(clock, 1.0, 2);
    RigRegistry registry(
        config, source, clock, [] { return 0.0; }, scheduler.notifier());
    source.hold();
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(source.wait_for_waiting(2));
    scheduler.run_due(registry, clock.now());
    EXPECT_EQ(source.calls(), 2);
    source.release();
    ASSERT_TRUE(eventually([&] { return all_idle(registry); }));
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 3; }));
}

TEST(RefreshScheduler, PublishesHeldBackTokensOnTimeAndWakesForThem) {
    FakeClock clock;
    FakeSource source(clock, 60);
    Config config =
        rigs_config({"a", "b", "c"});  // margin 20, min_ttl 5: the default 5-s delay fits
    RefreshScheduler scheduler(clock);
    RigRegistry registry(
        config, source, clock, [] { return 0.0; }, scheduler.notifier());
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 3; }));
    const WallTime first_expiry = registry.rigs()->rigs[0]->current()->expires_at;
    clock.advance(40);
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 6; }));
    // Held back for the delay: the old token is served, and the scheduler
    // wakes when the new one is due, not at the next refresh.
    const WallTime next = scheduler.run_due(registry, clock.now());
    EXPECT_NEAR(seconds_between(clock.now(), next), 5, 1e-6);
    for (const auto& rig : registry.rigs()->rigs) {
        EXPECT_EQ(rig->current()->expires_at, first_expiry);
    }
    clock.advance(5);
    const WallTime after = scheduler.run_due(registry, clock.now());
    for (const auto& rig : registry.rigs()->rigs) {
        EXPECT_GT(rig->current()->expires_at, first_expiry);
    }
    EXPECT_NEAR(seconds_between(clock.now(), after), 35, 1e-6);  // the next refresh
    EXPECT_EQ(source.calls(), 6);
}

Config rigs_named(std::initializer_list<const char*> ids) {
    Config c = rigs_config({"a", "b", "c"});
    c.rigs.clear();
    for (const char* id : ids) {
        RigConfig r;
        r.id = r.file = id;
        c.rigs.push_back(r);
    }
    return c;
}

Config many_rigs(int n) {
    Config c = rigs_config({"a", "b", "c"});
    c.rigs.clear();
    for (int i = 0; i < n; ++i) {
        RigConfig r;
        r.id = r.file = "rig" + std::to_string(i);
        c.rigs.push_back(r);
    }
    return c;
}

/// Not owned: the test's objects outlive the registry.
template <class T>
std::shared_ptr<T> borrowed(T& object) {
    return std::shared_ptr<T>(&object, [](T*) {});
}

// Git's erase within the reject cooldown moves the rig's refresh earlier (to
// the cooldown's end): the heap must find it then, not at its old time.
TEST(RefreshScheduler, FindsARigWhoseRefreshMovedEarlier) {
    FakeClock clock;
    FakeSource source(clock, 60);
    Config config = rigs_config({"a", "b", "c"});
    config.refresh.publish_delay_s = 0;  // no lag window: an erase is a rejection
    RefreshScheduler scheduler(clock);
    RigRegistry registry(
        config, source, clock, [] { return 0.0; }, scheduler.notifier());
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 3; }));
    ASSERT_NEAR(seconds_between(clock.now(), scheduler.run_due(registry, clock.now())), 40, 1e-6);

    clock.advance(10);
    const RigPtr a = registry.find("a");
    ASSERT_TRUE(a->report_rejected(a->current()->token));  // forced refresh now
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 4; }));
    ASSERT_TRUE(a->report_rejected(a->current()->token));  // within the cooldown: deferred
    EXPECT_NEAR(seconds_between(clock.now(), scheduler.run_due(registry, clock.now())), 5, 1e-6);
    EXPECT_EQ(source.calls(), 4);

    clock.advance(5);
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 5; }));
    EXPECT_EQ(a->stats().refreshes, 3u);
    EXPECT_EQ(registry.find("b")->stats().refreshes, 1u);
}

// A read's refresh moves the rig's next refresh later: its old heap entry
// must not start another one.
TEST(RefreshScheduler, ARigWhoseRefreshMovedLaterIsNotRefreshedAtItsOldTime) {
    FakeClock clock;
    FakeSource source(clock, 60);
    Config config = rigs_config({"a", "b", "c"});
    config.refresh.publish_delay_s = 0;
    RefreshScheduler scheduler(clock);
    RigRegistry registry(
        config, source, clock, [] { return 0.0; }, scheduler.notifier());
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 3; }));
    scheduler.run_due(registry, clock.now());  // a's entry: in 40 s

    clock.advance(10);
    const RigPtr a = registry.find("a");
    a->refresh_async(RefreshTrigger::OnDemand).wait();  // a's next refresh: in 40 s from now
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 4; }));

    clock.advance(30);  // b's and c's refresh time, a's old one
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 6; }));
    EXPECT_NEAR(seconds_between(clock.now(), scheduler.run_due(registry, clock.now())), 10, 1e-6);
    EXPECT_EQ(a->stats().refreshes, 2u);
    EXPECT_EQ(source.calls(), 6);
}

TEST(RefreshScheduler, RetiredRigsDropOutAndNewOnesComeInAfterAReload) {
    FakeClock clock;
    FakeSource source(clock, 60);
    Config config = rigs_named({"a", "b", "c"});
    config.refresh.publish_delay_s = 0;
    RefreshScheduler scheduler(clock);
    RigRegistry registry(
        config, source, clock, [] { return 0.0; }, scheduler.notifier());
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 3; }));
    scheduler.run_due(registry, clock.now());
    const RigPtr retired = registry.find("a");

    Config next = rigs_named({"b", "c", "d"});
    next.refresh.publish_delay_s = 0;
    registry.reload(borrowed(std::as_const(next)), borrowed(source));
    // No fallback files: the new generation starts without tokens, all due.
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 6; }));

    clock.advance(40);  // every token of both generations is due
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 9; }));
    EXPECT_EQ(retired->stats().refreshes, 1u);
    for (const char* id : {"b", "c", "d"}) EXPECT_EQ(registry.find(id)->stats().refreshes, 2u);
    scheduler.run_due(registry, clock.now());
    EXPECT_EQ(source.calls(), 9);
}

/// Counts concurrent fetches through to a FakeSource.
class ConcurrencySource final : public TokenSource {
  public:
    explicit ConcurrencySource(FakeSource& inner) : inner_(inner) {}
    Token fetch(const RigConfig& rig) override {
        const int now = ++running_;
        int seen = max_.load();
        while (now > seen && !max_.compare_exchange_weak(seen, now)) {
        }
        Token t = inner_.fetch(rig);
        --running_;
        return t;
    }
    std::string type_name() const override { return "concurrency"; }
    int max() const { return max_.load(); }

  private:
    FakeSource& inner_;
    std::atomic<int> running_{0};
    std::atomic<int> max_{0};
};

// 40 rigs due at once, at most 3 background refreshes at a time: the thread
// starts the rest as refreshes end, with no other wake-up than their ends.
TEST(RefreshScheduler, KeepsToMaxConcurrentAndStartsWaitingRigsAsRefreshesEnd) {
    FakeClock clock;
    FakeSource inner(clock, 60);
    ConcurrencySource source(inner);
    Config config = many_rigs(40);
    RefreshScheduler scheduler(clock, 3600, 3);  // no timed wake in the test's life
    RigRegistry registry(
        config, source, clock, [] { return 0.0; }, scheduler.notifier());
    inner.hold();
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(inner.wait_for_waiting(3));
    scheduler.run_due(registry, clock.now());
    EXPECT_EQ(inner.calls(), 3);
    scheduler.start(registry);
    inner.release();
    ASSERT_TRUE(eventually([&] { return inner.calls() == 40 && all_idle(registry); }));
    scheduler.stop();
    EXPECT_LE(source.max(), 3);
    EXPECT_EQ(registry.tokenless(), 0u);
}

TEST(RefreshScheduler, ReadinessCountReachesZeroExactlyWhenEveryRigHasAToken) {
    FakeClock clock;
    FakeSource source(clock, 60);
    Config config = rigs_config({"a", "b", "c"});
    RefreshScheduler scheduler(clock);
    RigRegistry registry(
        config, source, clock, [] { return 0.0; }, scheduler.notifier());
    const auto without_token = [&] {
        size_t n = 0;
        for (const auto& rig : registry.rigs()->rigs) n += rig->current() ? 0 : 1;
        return n;
    };
    EXPECT_EQ(registry.tokenless(), 3u);
    source.fail_next(1);
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 3; }));
    EXPECT_EQ(without_token(), 1u);
    EXPECT_EQ(registry.tokenless(), 1u);
    clock.advance(1);  // past the failed rig's backoff
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 4; }));
    EXPECT_EQ(without_token(), 0u);
    EXPECT_EQ(registry.tokenless(), 0u);
    // Later refreshes and reads do not count anything off twice.
    clock.advance(40);
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 7; }));
    EXPECT_EQ(registry.tokenless(), 0u);
}

TEST(RefreshScheduler, ReadinessCountFollowsAReloadKeptRigsSeededFromTheirFiles) {
    FakeClock clock;
    FakeSource source(clock, 60);
    test::TempDir dir;
    BackingDir backing(dir.path());
    auto config = std::make_shared<const Config>(rigs_named({"a", "b"}));
    RefreshScheduler scheduler(clock);
    RigRegistry registry(
        config, borrowed(static_cast<TokenSource&>(source)), clock, [] { return 0.0; },
        scheduler.notifier(), &backing);
    EXPECT_EQ(registry.tokenless(), 2u);
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 2; }));
    ASSERT_TRUE(eventually([&] { return backing.read("b").has_value(); }));
    EXPECT_EQ(registry.tokenless(), 0u);

    // b keeps its token (its fallback file); c is new and has none.
    registry.reload(std::make_shared<const Config>(rigs_named({"b", "c"})),
                    borrowed(static_cast<TokenSource&>(source)));
    EXPECT_EQ(registry.tokenless(), 1u);
    EXPECT_FALSE(registry.find("c")->current());
    EXPECT_TRUE(registry.find("b")->current());
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 3; }));
    EXPECT_EQ(registry.tokenless(), 0u);
}

/// A scheduler running over three rigs that have fetched their first tokens.
class RunningScheduler : public ::testing::Test {
  protected:
    void SetUp() override {
        scheduler_.start(registry_);
        ASSERT_TRUE(eventually([&] { return source_.calls() == 3 && all_idle(registry_); }));
    }
    void TearDown() override { scheduler_.stop(); }  // before the registry goes

    static Config config() {
        Config c = rigs_config({"a", "b", "c"});
        c.refresh.publish_delay_s = 0;  // renewal, not publication (see PublishesHeldBackTokens...)
        return c;
    }

    FakeClock clock_;
    FakeSource source_{clock_, 60};
    Config config_ = config();
    RefreshScheduler scheduler_{clock_, 0.01};
    RigRegistry registry_{config_, source_, clock_, [] { return 0.0; }, scheduler_.notifier()};
};

TEST_F(RunningScheduler, RenewsEveryTokenBeforeExpiryWithNoReads) {
    const WallTime first_expiry = registry_.rigs()->rigs[0]->current()->expires_at;
    clock_.advance(40.5);  // past the refresh time (expiry - 20 s), before expiry
    ASSERT_TRUE(eventually([&] { return source_.calls() == 6 && all_idle(registry_); }));
    for (const auto& rig : registry_.rigs()->rigs) {
        EXPECT_GT(rig->current()->expires_at, first_expiry);
        EXPECT_LT(rig->stats().last_refresh_at, first_expiry);
    }
}

TEST_F(RunningScheduler, WakingPastExpiryRefreshesPromptly) {
    clock_.advance(3600);  // the container was suspended for an hour
    ASSERT_TRUE(eventually([&] { return source_.calls() == 6 && all_idle(registry_); }));
    for (const auto& rig : registry_.rigs()->rigs) {
        EXPECT_GT(rig->current()->ttl_at(clock_.now()), 0);
    }
}

/// The scheduler's view of the clock, which can be made to block: a pass
/// that calls now() while the gate is shut hangs there, like a wedged pass.
class GatedClock final : public Clock {
  public:
    explicit GatedClock(const Clock& inner) : inner_(inner) {}
    WallTime now() const override {
        std::unique_lock lock(mu_);
        ++waiting_;
        cv_.wait(lock, [&] { return open_; });
        --waiting_;
        return inner_.now();
    }
    void shut() {
        std::lock_guard lock(mu_);
        open_ = false;
    }
    void open() {
        {
            std::lock_guard lock(mu_);
            open_ = true;
        }
        cv_.notify_all();
    }
    int waiting() const {
        std::lock_guard lock(mu_);
        return waiting_;
    }

  private:
    const Clock& inner_;
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    mutable int waiting_ = 0;
    bool open_ = true;
};

TEST(RefreshScheduler, HeartbeatComesWithinItsIntervalWithNothingDue) {
    FakeClock clock;  // never advanced: after the first tokens nothing is due for 40 s
    FakeSource source(clock, 60);
    Config config = rigs_config({"a", "b", "c"});
    RefreshScheduler scheduler(clock, 3600);  // without the cap, one wait is an hour
    RigRegistry registry(
        config, source, clock, [] { return 0.0; }, scheduler.notifier());
    std::atomic<int> beats{0};
    scheduler.set_heartbeat([&] { ++beats; }, 0.05);
    scheduler.start(registry);
    ASSERT_TRUE(eventually([&] { return source.calls() == 3 && all_idle(registry); }));
    const int after_tokens = beats.load();
    EXPECT_TRUE(eventually([&] { return beats.load() >= after_tokens + 5; }));
    EXPECT_EQ(source.calls(), 3);  // the beats came from waits, not from refreshes
    scheduler.stop();
}

TEST(RefreshScheduler, NoHeartbeatWhileAPassIsStuck) {
    FakeClock clock;
    GatedClock gated(clock);
    FakeSource source(clock, 60);
    Config config = rigs_config({"a", "b", "c"});
    RefreshScheduler scheduler(gated, 3600);
    RigRegistry registry(
        config, source, clock, [] { return 0.0; }, scheduler.notifier());
    std::atomic<int> beats{0};
    constexpr double kEvery = 0.02;
    scheduler.set_heartbeat([&] { ++beats; }, kEvery);
    scheduler.start(registry);
    ASSERT_TRUE(eventually([&] { return beats.load() >= 2; }));
    gated.shut();
    ASSERT_TRUE(eventually([&] { return gated.waiting() == 1; }));  // the pass hangs
    const int stuck_at = beats.load();
    // An absence can only be watched for a while: 25 intervals, each of
    // which would have brought a beat from a healthy loop (or a timer).
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(25 * kEvery);
    while (std::chrono::steady_clock::now() < until) {
        EXPECT_EQ(beats.load(), stuck_at);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    gated.open();
    EXPECT_TRUE(eventually([&] { return beats.load() >= stuck_at + 2; }));
    scheduler.stop();
}

}  // namespace
}  // namespace credfs
