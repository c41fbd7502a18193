#include <gtest/gtest.h>

#include <cerrno>
#include <cmath>
#include <limits>
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
