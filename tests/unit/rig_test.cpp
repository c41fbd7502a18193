#include <gtest/gtest.h>

#include <cerrno>
#include <cmath>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "credfs/engine/rig.hpp"
#include "rig_test_base.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

using test::eventually;
using test::FakeClock;
using test::FakeSource;
using test::RigTestBase;

class RigTest : public RigTestBase {};

TEST_F(RigTest, FreshTokenIsServedWithoutAnUpstreamCall) {
    auto rig = make_rig();
    prime(*rig);
    const int calls = source_.calls();
    clock_.advance(50);  // 10 s left == min_ttl: still fresh
    ReadResult r = rig->credential_for_read();
    ASSERT_EQ(r.error, 0);
    EXPECT_EQ(r.credential->content, "https://x-access-token:ghs_tok1@github.com\n");
    EXPECT_EQ(source_.calls(), calls);
}

TEST_F(RigTest, StaleTokenWaitsForOneRefresh) {
    auto rig = make_rig();
    prime(*rig);
    clock_.advance(51);  // 9 s left < min_ttl
    ReadResult r = rig->credential_for_read();
    ASSERT_EQ(r.error, 0);
    EXPECT_EQ(r.credential->token, "ghs_tok2");
    EXPECT_EQ(source_.calls(), 2);
    EXPECT_EQ(rig->stats().on_demand_waits, 1u);
}

TEST_F(RigTest, ConcurrentStaleReadersShareOneUpstreamCall) {
    auto rig = make_rig();
    prime(*rig);
    clock_.advance(55);
    source_.hold();
    std::vector<std::thread> readers;
    std::vector<std::string> got(50);
    for (int i = 0; i < 50; ++i) {
        readers.emplace_back([&, i] { got[i] = rig->credential_for_read().credential->token; });
    }
    ASSERT_TRUE(source_.wait_for_waiting(1));
    ASSERT_TRUE(eventually([&] { return rig->stats().on_demand_waits == 50; }));
    source_.release();
    for (auto& t : readers) t.join();
    EXPECT_EQ(source_.calls(), 2);  // the prime + exactly one shared refresh
    for (const auto& token : got) EXPECT_EQ(token, "ghs_tok2");
}

/// A FakeClock that, on the `nth` call of now() from `reader` after arm(),
/// first runs `hook` on that thread: a way to land an event between two
/// steps of a read.
class HookClock final : public Clock {
  public:
    WallTime now() const override {
        std::function<void()> run;
        {
            std::lock_guard lock(mu_);
            if (std::this_thread::get_id() == reader_ && --countdown_ == 0) run = hook_;
        }
        if (run) run();
        return clock_.now();
    }
    void arm(std::thread::id reader, int nth, std::function<void()> hook) {
        std::lock_guard lock(mu_);
        reader_ = reader;
        countdown_ = nth;
        hook_ = std::move(hook);
    }
    FakeClock& fake() { return clock_; }

  private:
    FakeClock clock_;
    mutable std::mutex mu_;
    std::thread::id reader_;
    mutable int countdown_ = 0;
    std::function<void()> hook_;
};

// A reader that found the token stale while a refresh was finishing must take
// that refresh's token, not start a second upstream call (docs/design.md,
// invariant 2; seen as two calls for one herd in RefreshTest under load).
// The refresh is landed at each of the reader's clock reads up to its joining
// a flight in turn (2 to 5 fall between its look at the token and the join).
TEST(RigSingleFlight, AReaderThatSawAStaleTokenTakesARefreshThatFinishedMeanwhile) {
    for (int nth = 1; nth <= 5; ++nth) {
        HookClock clock;
        FakeSource source(clock.fake(), 60);
        RigConfig config;
        config.id = config.file = "rig-a";
        RefreshConfig refresh;
        refresh.margin_s = 20;
        refresh.min_ttl_s = 10;
        refresh.jitter_s = 0;
        Rig rig(config, source, refresh, clock, [] { return 0.0; });
        rig.refresh_async(RefreshTrigger::Background).wait();
        clock.fake().advance(55);  // 5 s left: stale
        ReadResult got;
        std::thread reader([&] {
            clock.arm(std::this_thread::get_id(), nth,
                      [&] { rig.refresh_async(RefreshTrigger::Background).wait(); });
            got = rig.credential_for_read();
        });
        reader.join();
        ASSERT_EQ(got.error, 0) << "hook at clock read " << nth;
        EXPECT_EQ(got.credential->token, "ghs_tok2") << "hook at clock read " << nth;
        EXPECT_EQ(source.calls(), 2) << "hook at clock read " << nth;
    }
}

TEST_F(RigTest, ExpiredTokenAndFailingUpstreamGivesEio) {
    refresh_.read_timeout_s = 0.05;
    auto rig = make_rig();
    prime(*rig);
    clock_.advance(61);
    source_.fail_next(1);
    ReadResult r = rig->credential_for_read();
    EXPECT_EQ(r.error, EIO);
    EXPECT_FALSE(r.credential);
    EXPECT_EQ(rig->stats().last_error, "scripted failure");
    // The upstream is back: the next read recovers at once, whatever the backoff says.
    r = rig->credential_for_read();
    ASSERT_EQ(r.error, 0);
    EXPECT_EQ(r.credential->token, "ghs_tok3");
}

// docs/design.md, invariant 1: EIO only when no refresh could succeed in time. A reader that
// finds the token expired and whose refresh fails keeps its read_timeout_s:
// it tries again when the backoff allows, before its deadline.
TEST_F(RigTest, AnExpiredReadRetriesAFailedRefreshWithinItsTimeout) {
    refresh_.backoff_initial_s = 0.05;
    auto rig = make_rig();
    prime(*rig);
    clock_.advance(61);
    source_.fail_next(1);
    const ReadResult r = rig->credential_for_read();
    ASSERT_EQ(r.error, 0);
    EXPECT_EQ(r.credential->token, "ghs_tok3");
    EXPECT_EQ(source_.calls(), 3);  // the prime, the failure, the retry
}

// docs/design.md, invariant 7: expiry is wall time. A container suspended past its token's
// expiry wakes with the wall clock jumped ahead; the first read must fetch,
// never serve the dead token.
TEST_F(RigTest, AReadAfterTheWallClockJumpsPastExpiryGetsAFreshToken) {
    auto rig = make_rig();
    prime(*rig);
    clock_.advance(3600);
    const ReadResult r = rig->credential_for_read();
    ASSERT_EQ(r.error, 0);
    EXPECT_EQ(r.credential->token, "ghs_tok2");
    EXPECT_GE(r.credential->ttl_at(clock_.now()), refresh_.min_ttl_s);
}

// An upstream's Retry-After is taken as it comes (github_app reads it with
// atof): a huge, infinite or NaN value must still give a sane retry time.
TEST_F(RigTest, AnUpstreamsRetryAfterIsCappedWhateverItSays) {
    auto rig = make_rig();
    prime(*rig);
    for (const double asked :
         {1e300, std::numeric_limits<double>::infinity(), std::nan(""), 30.0}) {
        source_.set_retry_after(asked);
        source_.fail_next(1);
        rig->refresh_async(RefreshTrigger::Background).wait();
        const double wait_s = seconds_between(clock_.now(), rig->stats().next_refresh_at);
        EXPECT_GE(wait_s, 0) << "asked " << asked;
        EXPECT_LE(wait_s, 600) << "asked " << asked;
        if (asked == 30.0) {
            EXPECT_GE(wait_s, 30) << "a sane Retry-After is honoured";
        }
    }
}

TEST_F(RigTest, StaleReadsDoNotHammerAFailingUpstreamDuringBackoff) {
    refresh_.backoff_initial_s = 2;
    refresh_.mandatory_s = 0;  // the backoff alone; RotationTest has the mandatory window
    auto rig = make_rig();
    prime(*rig);
    clock_.advance(55);  // 5 s left: stale but valid
    source_.fail_next(1);
    EXPECT_EQ(rig->credential_for_read().credential->token, "ghs_tok1");
    EXPECT_EQ(source_.calls(), 2);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(rig->credential_for_read().error, 0);
    EXPECT_EQ(source_.calls(), 2);  // the retry is not due yet
    clock_.advance(2);
    EXPECT_EQ(rig->credential_for_read().credential->token, "ghs_tok3");
    EXPECT_EQ(source_.calls(), 3);
}

TEST_F(RigTest, StillValidTokenIsServedWhenRefreshFails) {
    refresh_.mandatory_s = 0;  // one try; RotationTest retries inside the mandatory window
    auto rig = make_rig();
    prime(*rig);
    clock_.advance(55);  // 5 s left: stale but valid
    source_.fail_next(1);
    ReadResult r = rig->credential_for_read();
    ASSERT_EQ(r.error, 0);
    EXPECT_EQ(r.credential->token, "ghs_tok1");
}

TEST_F(RigTest, ReaderGivesUpAfterReadTimeoutWhileUpstreamHangs) {
    refresh_.read_timeout_s = 0.05;
    auto rig = make_rig();
    prime(*rig);
    clock_.advance(61);
    source_.hold();
    EXPECT_EQ(rig->credential_for_read().error, EIO);
    source_.release();
    ASSERT_TRUE(eventually([&] { return !rig->refresh_in_flight(); }));
}

TEST_F(RigTest, NeverServesAnExpiredTokenEvenWithoutUpstreamProgress) {
    refresh_.read_timeout_s = 0.01;
    auto rig = make_rig();
    EXPECT_EQ(source_.calls(), 0);
    source_.fail_next(1);
    EXPECT_EQ(rig->credential_for_read().error, EIO);  // no token at all yet
}

TEST_F(RigTest, SameTokenFromUpstreamIsAFailureWithBackoff) {
    auto rig = make_rig();
    prime(*rig);
    const WallTime first_expiry = rig->current()->expires_at;
    source_.push(Token{"ghs_tok1", first_expiry + std::chrono::seconds(100)});
    rig->refresh_async(RefreshTrigger::Background).wait();
    RigStats s = rig->stats();
    EXPECT_EQ(s.failures, 1u);
    EXPECT_EQ(s.consecutive_failures, 1);
    EXPECT_EQ(rig->current()->token, "ghs_tok1");
    EXPECT_EQ(rig->current()->expires_at, first_expiry);  // not extended
    EXPECT_NEAR(seconds_between(clock_.now(), s.next_refresh_at), refresh_.backoff_initial_s, 1e-6);
    // A second not-newer answer (new token, older expiry) backs off further.
    source_.push(Token{"ghs_other", first_expiry - std::chrono::seconds(1)});
    rig->refresh_async(RefreshTrigger::Background).wait();
    s = rig->stats();
    EXPECT_EQ(s.consecutive_failures, 2);
    EXPECT_NEAR(seconds_between(clock_.now(), s.next_refresh_at), 2 * refresh_.backoff_initial_s,
                1e-6);
    EXPECT_EQ(rig->current()->token, "ghs_tok1");
}

TEST_F(RigTest, SuccessSchedulesTheNextRefreshBeforeExpiry) {
    auto rig = make_rig();
    prime(*rig);
    const RigStats s = rig->stats();
    EXPECT_EQ(s.refreshes, 1u);
    // 60 s token, 20 s margin, no jitter: renew 40 s from now.
    EXPECT_NEAR(seconds_between(clock_.now(), s.next_refresh_at), 40, 1e-6);
}

TEST_F(RigTest, MissingExpiryUsesAssumedTtl) {
    source_.push(Token{"ghs_noexp", std::nullopt});
    auto rig = make_rig();
    prime(*rig);
    EXPECT_NEAR(rig->current()->ttl_at(clock_.now()), 100, 1e-6);
}

TEST_F(RigTest, NonExpiringSourceIsRecheckedAndAnUnchangedTokenIsNoFailure) {
    source_.set_expire(false);
    source_.push(Token{"ghp_pat", std::nullopt});
    source_.push(Token{"ghp_pat", std::nullopt});
    source_.push(Token{"ghp_rotated", std::nullopt});
    auto rig = make_rig();
    prime(*rig);
    EXPECT_TRUE(rig->current()->never_expires());
    EXPECT_NEAR(seconds_between(clock_.now(), rig->next_refresh_at()), 5, 1e-6);
    clock_.advance(1e7);
    EXPECT_EQ(rig->credential_for_read().credential->token, "ghp_pat");  // never stale
    EXPECT_EQ(source_.calls(), 1);
    rig->refresh_async(RefreshTrigger::Background).wait();  // the file did not change
    EXPECT_EQ(rig->stats().failures, 0u);
    EXPECT_EQ(rig->current()->token, "ghp_pat");
    rig->refresh_async(RefreshTrigger::Background).wait();  // the PAT was rotated
    EXPECT_EQ(rig->current()->token, "ghp_rotated");
    EXPECT_EQ(rig->stats().failures, 0u);
}

TEST_F(RigTest, SnapshotSurvivesARefresh) {
    auto rig = make_rig();
    prime(*rig);
    CredentialPtr held = rig->current();
    clock_.advance(55);
    rig->refresh_async(RefreshTrigger::OnDemand).wait();
    EXPECT_EQ(held->content, "https://x-access-token:ghs_tok1@github.com\n");
    EXPECT_EQ(rig->current()->token, "ghs_tok2");
}

}  // namespace
}  // namespace credfs
