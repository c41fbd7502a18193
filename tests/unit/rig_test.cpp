#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include <filesystem>

#include "credfs/engine/fallback_state.hpp"
#include "credfs/engine/rig.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

using test::eventually;
using test::FakeClock;
using test::FakeSource;

class RigTestBase : public ::testing::Test {
  protected:
    RigTestBase() {
        config_.id = "rig-a";
        config_.file = "rig-a";
        refresh_.margin_s = 20;
        refresh_.min_ttl_s = 10;
        refresh_.jitter_s = 0;
        refresh_.read_timeout_s = 20;  // real seconds; tests release long before
        refresh_.assumed_ttl_s = 100;
    }
    std::unique_ptr<Rig> make_rig() {
        return std::make_unique<Rig>(config_, source_, refresh_, clock_, [] { return 0.0; });
    }
    /// Fetches a first token and waits for it to be served.
    void prime(Rig& rig) {
        rig.refresh_async(RefreshTrigger::Background).wait();
        ASSERT_TRUE(rig.current());
    }

    RigConfig config_;
    RefreshConfig refresh_;
    FakeClock clock_;
    FakeSource source_{clock_, 60};
};

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

// Invariant 1: EIO only when no refresh could succeed in time. A reader that
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

// Invariant 7: expiry is wall time. A container suspended past its token's
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

namespace credfs {
namespace {

using test::eventually;

class RigRewriteTest : public RigTestBase {};

TEST_F(RigRewriteTest, ApprovalKeepsServingTheDaemonsTokenAndOtherLines) {
    auto rig = make_rig();
    prime(*rig);
    rig->apply_rewrite(parse_store_rewrite(
        "https://x-access-token:ghs_WRITTEN_BY_GIT@github.com\nhttps://a:b@gitlab.example\n",
        config_));
    const CredentialPtr cred = rig->current();
    EXPECT_EQ(cred->content,
              "https://x-access-token:ghs_tok1@github.com\nhttps://a:b@gitlab.example\n");
    EXPECT_FALSE(cred->rejected);
    EXPECT_EQ(source_.calls(), 1);
    // Kept lines survive a refresh.
    clock_.advance(55);
    ASSERT_EQ(rig->credential_for_read().error, 0);
    EXPECT_EQ(rig->current()->content,
              "https://x-access-token:ghs_tok2@github.com\nhttps://a:b@gitlab.example\n");
}

TEST_F(RigRewriteTest, EraseMarksTheTokenRejectedAndRefreshesAtOnce) {
    auto rig = make_rig();
    prime(*rig);
    rig->apply_rewrite(parse_store_rewrite("", config_));
    ASSERT_TRUE(eventually([&] { return source_.calls() == 2 && !rig->refresh_in_flight(); }));
    EXPECT_EQ(rig->current()->token, "ghs_tok2");
    EXPECT_FALSE(rig->current()->rejected);
    EXPECT_EQ(rig->stats().rejections, 1u);
    EXPECT_EQ(rig->credential_for_read().credential->token, "ghs_tok2");
}

TEST_F(RigRewriteTest, AtMostOneForcedRefreshPerCooldown) {
    refresh_.reject_cooldown_s = 5;
    auto rig = make_rig();
    prime(*rig);
    rig->apply_rewrite(parse_store_rewrite("", config_));
    ASSERT_TRUE(eventually([&] { return source_.calls() == 2 && !rig->refresh_in_flight(); }));
    clock_.advance(1);
    rig->apply_rewrite(parse_store_rewrite("", config_));  // GitHub still replicating
    EXPECT_FALSE(rig->refresh_in_flight());
    EXPECT_EQ(source_.calls(), 2);
    EXPECT_FALSE(rig->current()->rejected);
    // Deferred, not dropped: the scheduler refreshes when the cooldown ends.
    EXPECT_NEAR(seconds_between(clock_.now(), rig->next_refresh_at()), 4, 1e-6);
    clock_.advance(5);
    rig->apply_rewrite(parse_store_rewrite("", config_));
    ASSERT_TRUE(eventually([&] { return source_.calls() == 3 && !rig->refresh_in_flight(); }));
}

TEST_F(RigRewriteTest, UpstreamHandingBackTheRejectedTokenBacksOff) {
    auto rig = make_rig();
    prime(*rig);
    source_.push(Token{"ghs_tok1", rig->current()->expires_at});  // the very token git erased
    rig->apply_rewrite(parse_store_rewrite("", config_));
    ASSERT_TRUE(eventually([&] { return source_.calls() == 2 && !rig->refresh_in_flight(); }));
    const RigStats s = rig->stats();
    EXPECT_EQ(s.consecutive_failures, 1);
    EXPECT_NE(s.last_error.find("handed back the token git just rejected"), std::string::npos);
    EXPECT_GT(seconds_between(clock_.now(), s.next_refresh_at), 0);  // backoff, not a loop
    EXPECT_TRUE(rig->current()->rejected);
    // During the backoff a read gets the still-valid token at once, without
    // another upstream call; once the retry is due, a read fetches a new one.
    EXPECT_EQ(rig->credential_for_read().credential->token, "ghs_tok1");
    EXPECT_EQ(source_.calls(), 2);
    clock_.advance(seconds_between(clock_.now(), s.next_refresh_at));
    ReadResult r = rig->credential_for_read();
    ASSERT_EQ(r.error, 0);
    EXPECT_EQ(r.credential->token, "ghs_tok3");
}

TEST_F(RigRewriteTest, EraseBeforeAnyTokenIsHarmless) {
    auto rig = make_rig();
    rig->apply_rewrite(parse_store_rewrite("https://a:b@gitlab.example\n", config_));
    EXPECT_EQ(source_.calls(), 0);
    EXPECT_EQ(rig->stats().rejections, 0u);
    prime(*rig);
    EXPECT_EQ(rig->current()->content,
              "https://x-access-token:ghs_tok1@github.com\nhttps://a:b@gitlab.example\n");
}

TEST_F(RigRewriteTest, KeptLinesStayWithinWhatGitsNextLockFileCanHold) {
    auto rig = make_rig();
    prime(*rig);
    // An approval (managed line present), so no rejection refresh races the check.
    std::string huge = "https://x-access-token:ghs_written@github.com\n";
    for (int i = 0; i < 40000; ++i) huge += "https://u:p@host" + std::to_string(i) + ".example\n";
    ASSERT_GT(huge.size(), 1u << 20);
    rig->apply_rewrite(parse_store_rewrite(huge, config_));
    EXPECT_LT(rig->current()->content.size(), 1u << 20);
    EXPECT_EQ(rig->current()->content.rfind("https://x-access-token:ghs_tok1@github.com\n", 0), 0u);
}

class RigFallbackTest : public RigTestBase {
  protected:
    test::TempDir dir_;
    BackingDir backing_{dir_.path()};
};

TEST_F(RigFallbackTest, EveryRefreshAndRewriteIsWrittenThrough) {
    auto rig = make_rig();
    rig->set_backing(&backing_);
    prime(*rig);
    ASSERT_TRUE(eventually(
        [&] { return backing_.read("rig-a") == "https://x-access-token:ghs_tok1@github.com\n"; }));
    rig->apply_rewrite(
        parse_store_rewrite("https://a:b@gitlab.example\n"
                            "https://x-access-token:x@github.com\n",
                            config_));
    EXPECT_EQ(backing_.read("rig-a"),
              "https://x-access-token:ghs_tok1@github.com\nhttps://a:b@gitlab.example\n");
    clock_.advance(55);
    ASSERT_EQ(rig->credential_for_read().error, 0);
    ASSERT_TRUE(eventually([&] {
        return backing_.read("rig-a") ==
               "https://x-access-token:ghs_tok2@github.com\nhttps://a:b@gitlab.example\n";
    }));
    EXPECT_EQ(rig->stats().write_through_failures, 0u);
}

// git approves after every push with the same bytes: writing them through
// again (two fsyncs) only made git hold its lock longer.
TEST_F(RigFallbackTest, AnUnchangedApprovalDoesNotRewriteTheFallbackFile) {
    auto rig = make_rig();
    rig->set_backing(&backing_);
    prime(*rig);
    const std::string approval =
        "https://x-access-token:x@github.com\nhttps://a:b@gitlab.example\n";
    rig->apply_rewrite(parse_store_rewrite(approval, config_));
    const std::string path = dir_.path() + "/rig-a";
    struct stat first {};
    ASSERT_EQ(::stat(path.c_str(), &first), 0);
    rig->apply_rewrite(parse_store_rewrite(approval, config_));
    struct stat again {};
    ASSERT_EQ(::stat(path.c_str(), &again), 0);
    EXPECT_EQ(again.st_ino, first.st_ino) << "rewritten although nothing changed";
    rig->apply_rewrite(parse_store_rewrite("https://x-access-token:x@github.com\n", config_));
    struct stat changed {};
    ASSERT_EQ(::stat(path.c_str(), &changed), 0);
    EXPECT_NE(changed.st_ino, first.st_ino);
    EXPECT_EQ(backing_.read("rig-a"), "https://x-access-token:ghs_tok1@github.com\n");
}

TEST_F(RigFallbackTest, AWriteThroughFailureIsCountedAndNeverFailsARead) {
    std::filesystem::create_directory(dir_.path() + "/rig-a");  // blocks the rename
    auto rig = make_rig();
    rig->set_backing(&backing_);
    prime(*rig);
    ASSERT_TRUE(eventually([&] { return rig->stats().write_through_failures >= 1; }));
    EXPECT_FALSE(rig->stats().write_through_error.empty());
    EXPECT_EQ(rig->credential_for_read().error, 0);
}

TEST_F(RigFallbackTest, SeedsAStillValidTokenAndOtherLinesFromTheFallbackFile) {
    const WallTime expires = clock_.now() + std::chrono::seconds(50);
    ASSERT_EQ(backing_.write_atomic("rig-a",
                                    "https://x-access-token:ghs_seed@github.com\n"
                                    "https://a:b@gitlab.example\n"),
              0);
    ASSERT_EQ(backing_.write_atomic(".rig-a.credfs-state", render_state(expires, "ghs_seed")), 0);
    auto rig = make_rig();
    rig->set_backing(&backing_);
    rig->seed_from_backing();
    ASSERT_TRUE(rig->current());
    EXPECT_EQ(rig->current()->token, "ghs_seed");
    EXPECT_EQ(rig->current()->content,
              "https://x-access-token:ghs_seed@github.com\nhttps://a:b@gitlab.example\n");
    EXPECT_EQ(rig->credential_for_read().credential->token, "ghs_seed");
    EXPECT_EQ(source_.calls(), 0);
    // 50 s token, 20 s margin: renewed 30 s from now, not at startup.
    EXPECT_NEAR(seconds_between(clock_.now(), rig->next_refresh_at()), 30, 1e-6);
}

TEST_F(RigFallbackTest, DoesNotTrustATokenWithoutAMatchingRecord) {
    ASSERT_EQ(backing_.write_atomic("rig-a",
                                    "https://x-access-token:ghs_seed@github.com\n"
                                    "https://a:b@gitlab.example\n"),
              0);
    ASSERT_EQ(backing_.write_atomic(".rig-a.credfs-state",
                                    render_state(clock_.now() + std::chrono::hours(1), "ghs_x")),
              0);
    auto rig = make_rig();
    rig->set_backing(&backing_);
    rig->seed_from_backing();
    EXPECT_FALSE(rig->current());
    prime(*rig);  // kept lines were seeded all the same
    EXPECT_EQ(rig->current()->content,
              "https://x-access-token:ghs_tok1@github.com\nhttps://a:b@gitlab.example\n");
}

}  // namespace
}  // namespace credfs
