// One rig across a rotation (docs/design.md, invariant 8; docs/operations.md,
// "Rotation timeline"): the publish delay, git's erase of a token still
// replicating, and the mandatory window against backoff. The fixture's rig
// has 60 s tokens, margin 20, min_ttl 10 and no jitter, so with the default
// keys the publish delay applied is 5 s, the lag window 15 s and the
// mandatory window 10 s.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "credfs/engine/backing_dir.hpp"
#include "credfs/engine/fallback_store.hpp"
#include "credfs/engine/rig.hpp"
#include "rig_test_base.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

using test::eventually;
using test::RigTestBase;

class RotationTest : public RigTestBase {
  protected:
    /// A rig serving ghs_tok1, then its background refresh at the refresh
    /// time (margin_s before expiry) fetching ghs_tok2. Returns once both
    /// refreshes are done, their writes to the fallback file included.
    std::unique_ptr<Rig> rotated_in_background(bool with_fallback = false) {
        auto rig = std::make_unique<Rig>(
            config_, source_, refresh_, clock_, [] { return 0.0; }, [this] { ++refreshed_; });
        if (with_fallback) rig->set_fallback(std::make_unique<FallbackStore>(backing_, config_));
        rig->refresh_async(RefreshTrigger::Background).wait();
        clock_.advance(60 - refresh_.margin_s);
        rig->refresh_async(RefreshTrigger::Background).wait();
        // on_refreshed runs after a refresh's write-through.
        EXPECT_TRUE(eventually([&] { return refreshed_ == 2; }));
        return rig;
    }
    std::string read_token(Rig& rig) {
        const ReadResult r = rig.credential_for_read();
        return r.error == 0 ? r.credential->token : "EIO";
    }
    std::string file_token() {
        const auto content = backing_.read("rig-a");
        if (!content) return "";
        const auto at = content->find('@');
        const std::string prefix = "https://x-access-token:";
        if (content->rfind(prefix, 0) != 0 || at == std::string::npos) return "";
        return content->substr(prefix.size(), at - prefix.size());
    }
    static StoreRewrite erase_all(const RigConfig& rig) { return parse_store_rewrite("", rig); }

    test::TempDir dir_;
    BackingDir backing_{dir_.path()};
    std::atomic<int> refreshed_{0};
};

TEST_F(RotationTest, ABackgroundRefreshServesThePreviousTokenUntilTheDelayPasses) {
    auto rig = rotated_in_background();
    EXPECT_EQ(source_.calls(), 2);
    EXPECT_EQ(rig->current()->token, "ghs_tok1");
    EXPECT_EQ(read_token(*rig), "ghs_tok1");
    EXPECT_NEAR(seconds_between(clock_.now(), rig->next_publication_at()), 5, 1e-6);
    clock_.advance(4);
    EXPECT_EQ(read_token(*rig), "ghs_tok1");
    clock_.advance(1.5);
    EXPECT_EQ(read_token(*rig), "ghs_tok2");
    EXPECT_EQ(rig->current()->token, "ghs_tok2");
    EXPECT_EQ(rig->next_publication_at(), WallTime::max());
    EXPECT_EQ(source_.calls(), 2);
}

TEST_F(RotationTest, ARefreshAReaderWaitsOnServesTheNewTokenAtOnce) {
    // On demand: the token is stale, so there is nothing fresh to serve meanwhile.
    auto rig = make_rig();
    prime(*rig);
    clock_.advance(51);
    EXPECT_EQ(read_token(*rig), "ghs_tok2");
    EXPECT_EQ(rig->next_publication_at(), WallTime::max());
    // A background refresh a stale reader joins publishes at once too.
    clock_.advance(51);
    source_.hold();
    rig->refresh_async(RefreshTrigger::Background);
    ASSERT_TRUE(source_.wait_for_waiting(1));
    std::string got;
    std::thread reader([&] { got = read_token(*rig); });
    ASSERT_TRUE(eventually([&] { return rig->stats().on_demand_waits == 2; }));
    source_.release();
    reader.join();
    EXPECT_EQ(got, "ghs_tok3");
    EXPECT_EQ(source_.calls(), 3);
}

TEST_F(RotationTest, APreviousTokenBelowMinTtlIsNeverHeldOnTo) {
    auto rig = make_rig();
    prime(*rig);
    clock_.advance(48);  // 12 s left: a late background refresh (after failures, say)
    rig->refresh_async(RefreshTrigger::Background).wait();
    EXPECT_EQ(read_token(*rig), "ghs_tok1");
    EXPECT_NEAR(seconds_between(clock_.now(), rig->next_publication_at()), 2, 1e-6);
    clock_.advance(2.5);  // tok1 has 9.5 s left, tok2 is 2.5 s old
    EXPECT_EQ(read_token(*rig), "ghs_tok2");
    // Already below min_ttl when the refresh lands: published with it.
    clock_.advance(51);
    rig->refresh_async(RefreshTrigger::Background).wait();
    EXPECT_EQ(rig->current()->token, "ghs_tok3");
}

TEST_F(RotationTest, NoDelayConfiguredPublishesAtOnce) {
    refresh_.publish_delay_s = 0;
    auto rig = rotated_in_background();
    EXPECT_EQ(rig->current()->token, "ghs_tok2");
    EXPECT_EQ(rig->next_publication_at(), WallTime::max());
}

TEST_F(RotationTest, TheFallbackFileGetsTheNewTokenAtPublicationNotBefore) {
    auto rig = rotated_in_background(true);
    EXPECT_EQ(file_token(), "ghs_tok1");
    EXPECT_FALSE(rig->publish_due(clock_.now()));
    EXPECT_EQ(file_token(), "ghs_tok1");
    clock_.advance(5);
    EXPECT_TRUE(rig->publish_due(clock_.now()));  // what the scheduler calls
    EXPECT_EQ(file_token(), "ghs_tok2");
    EXPECT_EQ(rig->current()->token, "ghs_tok2");
    EXPECT_FALSE(rig->publish_due(clock_.now()));
}

TEST_F(RotationTest, AReadThatPublishesWritesTheFallbackFile) {
    auto rig = rotated_in_background(true);
    clock_.advance(5);
    EXPECT_EQ(read_token(*rig), "ghs_tok2");
    EXPECT_EQ(file_token(), "ghs_tok2");
}

TEST_F(RotationTest, AnEraseOfTheHeldBackPreviousTokenPublishesTheNewOneWithoutAMint) {
    auto rig = rotated_in_background(true);
    rig->apply_rewrite(erase_all(config_));
    EXPECT_EQ(rig->current()->token, "ghs_tok2");
    EXPECT_FALSE(rig->current()->rejected);
    EXPECT_FALSE(rig->refresh_in_flight());
    EXPECT_EQ(source_.calls(), 2);
    EXPECT_EQ(rig->stats().rejections, 0u);
    EXPECT_EQ(file_token(), "ghs_tok2");
}

TEST_F(RotationTest, AnEraseOfALaggingTokenServesThePreviousOneAgainAndMintsNothing) {
    refresh_.margin_s = 40;  // tok1 keeps min_ttl_s left through the whole lag window
    auto rig = rotated_in_background(true);
    clock_.advance(5);
    ASSERT_EQ(read_token(*rig), "ghs_tok2");
    clock_.advance(1);  // tok2 is 6 s old: GitHub may still refuse it
    rig->apply_rewrite(erase_all(config_));
    EXPECT_FALSE(rig->refresh_in_flight());
    EXPECT_EQ(source_.calls(), 2);
    EXPECT_EQ(rig->stats().rejections, 0u);
    EXPECT_EQ(read_token(*rig), "ghs_tok1");
    EXPECT_EQ(file_token(), "ghs_tok1");  // the line git erased is back, with the working token
    // A second erase of the same lag (another git read tok2 before): still nothing.
    clock_.advance(2);
    rig->apply_rewrite(erase_all(config_));
    EXPECT_EQ(read_token(*rig), "ghs_tok1");
    EXPECT_EQ(source_.calls(), 2);
    // tok2 is served again once it is 15 s old (delay 5 + 10).
    EXPECT_NEAR(seconds_between(clock_.now(), rig->next_publication_at()), 7, 1e-6);
    clock_.advance(6.5);
    EXPECT_EQ(read_token(*rig), "ghs_tok1");
    clock_.advance(1);
    EXPECT_EQ(read_token(*rig), "ghs_tok2");
    EXPECT_EQ(file_token(), "ghs_tok2");
    EXPECT_EQ(source_.calls(), 2);
    // Older than the lag window, an erase is a revocation: a mint, as before.
    clock_.advance(1);
    rig->apply_rewrite(erase_all(config_));
    ASSERT_TRUE(eventually([&] { return source_.calls() == 3 && !rig->refresh_in_flight(); }));
    EXPECT_EQ(rig->current()->token, "ghs_tok3");
    EXPECT_EQ(rig->stats().rejections, 1u);
}

TEST_F(RotationTest, AnEraseOfAnOldTokenMintsAndTheCooldownStillHolds) {
    refresh_.reject_cooldown_s = 30;
    auto rig = make_rig();
    prime(*rig);
    clock_.advance(16);  // tok1 is older than the lag window
    rig->apply_rewrite(erase_all(config_));
    ASSERT_TRUE(eventually([&] { return source_.calls() == 2 && !rig->refresh_in_flight(); }));
    EXPECT_EQ(rig->current()->token, "ghs_tok2");
    EXPECT_EQ(rig->stats().rejections, 1u);
    // tok2 lags too (the loop the issue saw): no previous one can be served
    // (git rejected it), so tok2 stays, and nothing is minted.
    clock_.advance(1);
    rig->apply_rewrite(erase_all(config_));
    EXPECT_FALSE(rig->refresh_in_flight());
    EXPECT_EQ(source_.calls(), 2);
    EXPECT_EQ(read_token(*rig), "ghs_tok2");
    EXPECT_FALSE(rig->current()->rejected);
    // Old enough, but within the cooldown of the last forced refresh:
    // deferred to its end, as before.
    clock_.advance(15);
    rig->apply_rewrite(erase_all(config_));
    EXPECT_FALSE(rig->refresh_in_flight());
    EXPECT_EQ(source_.calls(), 2);
    EXPECT_NEAR(seconds_between(clock_.now(), rig->next_refresh_at()), 14, 1e-6);
}

TEST_F(RotationTest, TheHelpersEraseOfALaggingTokenIsLagToo) {
    refresh_.margin_s = 40;
    auto rig = rotated_in_background();
    clock_.advance(5);
    ASSERT_EQ(read_token(*rig), "ghs_tok2");
    clock_.advance(1);
    EXPECT_TRUE(rig->report_rejected("ghs_tok2"));
    EXPECT_EQ(read_token(*rig), "ghs_tok1");
    EXPECT_FALSE(rig->refresh_in_flight());
    // git with both helpers: the store helper's erase of the same young
    // token follows, and the credential helper may report it twice.
    rig->apply_rewrite(erase_all(config_));
    EXPECT_TRUE(rig->report_rejected("ghs_tok2"));
    EXPECT_FALSE(rig->report_rejected("ghs_someone_else"));
    EXPECT_EQ(read_token(*rig), "ghs_tok1");
    EXPECT_EQ(source_.calls(), 2);
    EXPECT_EQ(rig->stats().rejections, 0u);
    clock_.advance(9);  // tok2 is 15 s old
    EXPECT_EQ(read_token(*rig), "ghs_tok2");
    EXPECT_FALSE(rig->report_rejected("ghs_tok1"));  // an older token: nothing
    clock_.advance(1);
    EXPECT_TRUE(rig->report_rejected("ghs_tok2"));  // old enough: revoked
    ASSERT_TRUE(eventually([&] { return source_.calls() == 3 && !rig->refresh_in_flight(); }));
    EXPECT_EQ(rig->current()->token, "ghs_tok3");
    EXPECT_EQ(rig->stats().rejections, 1u);
}

TEST_F(RotationTest, BackoffServesAStaleTokenAtOnceOnlyAboveTheMandatoryWindow) {
    refresh_.mandatory_s = 4;
    refresh_.backoff_initial_s = 30;
    auto rig = make_rig();
    prime(*rig);
    clock_.advance(51);  // 9 s left: stale, above the window
    source_.fail_next(1);
    EXPECT_EQ(read_token(*rig), "ghs_tok1");  // the refresh failed: the valid token
    EXPECT_EQ(source_.calls(), 2);
    EXPECT_EQ(read_token(*rig), "ghs_tok1");  // backing off: no upstream call
    EXPECT_EQ(source_.calls(), 2);
    clock_.advance(5.5);  // 3.5 s left: inside the window, still backing off
    const ReadResult r = rig->credential_for_read();
    ASSERT_EQ(r.error, 0);
    EXPECT_EQ(r.credential->token, "ghs_tok3");
    EXPECT_GE(r.credential->ttl_at(clock_.now()), refresh_.min_ttl_s);
    EXPECT_EQ(source_.calls(), 3);
}

TEST_F(RotationTest, WithoutAMandatoryWindowBackoffHandsOutADyingToken) {
    // The control for the test above and the herd below: what they prevent.
    refresh_.mandatory_s = 0;
    refresh_.backoff_initial_s = 30;
    auto rig = make_rig();
    prime(*rig);
    clock_.advance(40);
    source_.fail_next(1);
    rig->refresh_async(RefreshTrigger::Background).wait();
    clock_.advance(18.2);
    EXPECT_EQ(read_token(*rig), "ghs_tok1");
    EXPECT_EQ(source_.calls(), 2);
}

TEST_F(RotationTest, InsideTheWindowAFailedRefreshIsRetriedWithinTheReadTimeout) {
    refresh_.backoff_initial_s = 0.05;
    auto rig = make_rig();
    prime(*rig);
    clock_.advance(55);  // 5 s left, inside the 10-s window
    source_.fail_next(1);
    EXPECT_EQ(read_token(*rig), "ghs_tok3");
    EXPECT_EQ(source_.calls(), 3);  // the prime, the failure, the retry
}

TEST_F(RotationTest, InsideTheWindowAReadFallsBackToTheValidTokenWhenNoRetryFitsItsTimeout) {
    refresh_.read_timeout_s = 0.2;  // real seconds; the retry would be due after 30
    refresh_.backoff_initial_s = 30;
    auto rig = make_rig();
    prime(*rig);
    clock_.advance(55);
    source_.fail_next(1);
    EXPECT_EQ(read_token(*rig), "ghs_tok1");
    EXPECT_EQ(source_.calls(), 2);
    clock_.advance(5);  // expired: never served
    source_.fail_next(1);
    EXPECT_EQ(read_token(*rig), "EIO");
}

// The herd: refreshes back off after a failure, the upstream has just
// recovered, and 50 readers arrive with 3% of the token's life left. Each
// must leave with a token that outlives its read by min_ttl_s, all from one
// upstream call.
TEST_F(RotationTest, AHerdInTheLastThreePercentWhileBackingOffGetsFreshTokensFromOneCall) {
    refresh_.backoff_initial_s = 30;
    refresh_.backoff_max_s = 60;
    auto rig = make_rig();
    prime(*rig);
    clock_.advance(40);
    source_.fail_next(1);
    rig->refresh_async(RefreshTrigger::Background).wait();
    ASSERT_EQ(rig->stats().consecutive_failures, 1);
    clock_.advance(18.2);  // 1.8 s left of 60; the retry is due in 11.8 s
    ASSERT_GT(rig->next_refresh_at(), clock_.now());
    const int calls_before = source_.calls();
    source_.hold();
    constexpr int kReaders = 50;
    std::vector<ReadResult> got(kReaders);
    std::vector<double> ttl_after(kReaders, -1);
    std::vector<std::thread> readers;
    for (int i = 0; i < kReaders; ++i) {
        readers.emplace_back([&, i] {
            got[i] = rig->credential_for_read();
            if (got[i].credential) ttl_after[i] = got[i].credential->ttl_at(clock_.now());
        });
    }
    ASSERT_TRUE(source_.wait_for_waiting(1));
    ASSERT_TRUE(eventually([&] { return rig->stats().on_demand_waits == kReaders; }));
    source_.release();
    for (auto& t : readers) t.join();
    EXPECT_EQ(source_.calls() - calls_before, 1);
    for (int i = 0; i < kReaders; ++i) {
        ASSERT_EQ(got[i].error, 0) << "reader " << i;
        EXPECT_EQ(got[i].credential->token, "ghs_tok3") << "reader " << i;
        EXPECT_GE(ttl_after[i], refresh_.min_ttl_s) << "reader " << i;
    }
}

}  // namespace
}  // namespace credfs
