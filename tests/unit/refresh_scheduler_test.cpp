#include <gtest/gtest.h>

#include "credfs/engine/refresh_scheduler.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

using test::eventually;
using test::FakeClock;
using test::FakeSource;

Config three_rigs() {
    Config c;
    for (const char* id : {"a", "b", "c"}) {
        RigConfig r;
        r.id = r.file = id;
        c.rigs.push_back(r);
    }
    c.refresh.margin_s = 20;
    c.refresh.jitter_s = 0;
    c.refresh.min_ttl_s = 5;
    return c;
}

bool all_idle(const RigRegistry& reg) {
    for (const auto& r : reg.rigs()->rigs) {
        if (r->refresh_in_flight()) return false;
    }
    return true;
}

TEST(RefreshScheduler, StartsDueRigsAndReportsTheNextDueTime) {
    FakeClock clock;
    FakeSource source(clock, 60);
    Config config = three_rigs();
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
    Config config = three_rigs();
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
    Config config = three_rigs();  // margin 20, min_ttl 5: the default 5-s delay fits
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

/// A scheduler running over three rigs that have fetched their first tokens.
class RunningScheduler : public ::testing::Test {
  protected:
    void SetUp() override {
        scheduler_.start(registry_);
        ASSERT_TRUE(eventually([&] { return source_.calls() == 3 && all_idle(registry_); }));
    }
    void TearDown() override { scheduler_.stop(); }  // before the registry goes

    static Config config() {
        Config c = three_rigs();
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

}  // namespace
}  // namespace credfs
