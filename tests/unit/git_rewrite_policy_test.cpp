// GitRewritePolicy on its own (kept lines, rejections, cooldown), then the
// Rig applying git's rewrites through it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "credfs/core/credential_store.hpp"
#include "credfs/engine/git_rewrite_policy.hpp"
#include "credfs/engine/rig.hpp"
#include "rig_test_base.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

using test::eventually;
using test::FakeClock;
using test::RigTestBase;

class GitRewritePolicyTest : public ::testing::Test {
  protected:
    GitRewritePolicyTest() {
        rig_.id = rig_.file = "rig-a";
        refresh_.reject_cooldown_s = 5;
    }
    StoreRewrite approval(std::vector<std::string> others) const {
        StoreRewrite r;
        r.has_managed_line = true;
        r.other_lines = std::move(others);
        return r;
    }
    StoreRewrite erase(std::vector<std::string> others = {}) const {
        StoreRewrite r;
        r.other_lines = std::move(others);
        return r;
    }

    RigConfig rig_;
    RefreshConfig refresh_;
    FakeClock clock_;
    GitRewritePolicy policy_{rig_, refresh_};
};

TEST_F(GitRewritePolicyTest, AnApprovalIsUnchangedOnlyWhenTheKeptLinesAre) {
    auto first = policy_.apply(approval({"https://a:b@gitlab.example"}), clock_.now(), true);
    EXPECT_FALSE(first.unchanged);
    EXPECT_FALSE(first.refresh_now);
    EXPECT_EQ(first.kept, 1u);
    auto same = policy_.apply(approval({"https://a:b@gitlab.example"}), clock_.now(), true);
    EXPECT_TRUE(same.unchanged);
    auto fewer = policy_.apply(approval({}), clock_.now(), true);
    EXPECT_FALSE(fewer.unchanged);
    EXPECT_EQ(policy_.kept_count(), 0u);
    EXPECT_EQ(policy_.rejections(), 0u);
}

TEST_F(GitRewritePolicyTest, RendersTheManagedLineThenTheKeptLines) {
    EXPECT_EQ(policy_.render("ghs_x"), "https://x-access-token:ghs_x@github.com\n");
    policy_.apply(approval({"https://a:b@gitlab.example", "not a url"}), clock_.now(), true);
    EXPECT_EQ(policy_.render("ghs_x"),
              "https://x-access-token:ghs_x@github.com\nhttps://a:b@gitlab.example\nnot a url\n");
}

TEST_F(GitRewritePolicyTest, AnEraseWithNothingServedIsNoRejection) {
    auto out = policy_.apply(erase({"https://a:b@gitlab.example"}), clock_.now(), false);
    EXPECT_FALSE(out.refresh_now);
    EXPECT_FALSE(out.refresh_by);
    EXPECT_FALSE(out.unchanged);  // an erase is never an unchanged approval
    EXPECT_EQ(policy_.rejections(), 0u);
    EXPECT_EQ(policy_.kept_count(), 1u);  // its lines are kept all the same
    // ...and does not start the cooldown: the first real rejection refreshes.
    EXPECT_TRUE(policy_.apply(erase(), clock_.now(), true).refresh_now);
}

TEST_F(GitRewritePolicyTest, TheCooldownDefersASecondRejectionToItsEndInclusive) {
    const WallTime first = clock_.now();
    EXPECT_TRUE(policy_.apply(erase(), first, true).refresh_now);
    clock_.advance(4.5);
    auto within = policy_.apply(erase(), clock_.now(), true);
    EXPECT_FALSE(within.refresh_now);
    ASSERT_TRUE(within.refresh_by);
    EXPECT_EQ(*within.refresh_by, first + to_wall_duration(5));
    EXPECT_EQ(policy_.rejections(), 1u);
    clock_.advance(0.5);  // exactly reject_cooldown_s after the forced refresh
    auto after = policy_.apply(erase(), clock_.now(), true);
    EXPECT_TRUE(after.refresh_now);
    EXPECT_FALSE(after.refresh_by);
    EXPECT_EQ(policy_.rejections(), 2u);
}

TEST_F(GitRewritePolicyTest, AReportedRejectionKeepsTheLinesAndSharesTheCooldown) {
    policy_.keep_lines({"https://a:b@gitlab.example"});
    const WallTime first = clock_.now();
    EXPECT_FALSE(policy_.reject(first, false).refresh_now);  // nothing served yet
    EXPECT_TRUE(policy_.reject(first, true).refresh_now);
    EXPECT_EQ(policy_.kept_count(), 1u);
    clock_.advance(1);
    // An erase of the file right after the helper's report: one forced refresh.
    const auto within = policy_.apply(erase({"https://a:b@gitlab.example"}), clock_.now(), true);
    EXPECT_FALSE(within.refresh_now);
    EXPECT_EQ(within.refresh_by, first + to_wall_duration(5));
    EXPECT_EQ(policy_.rejections(), 1u);
}

TEST_F(GitRewritePolicyTest, KeepsLinesUpToTheByteBoundAndSkipsOnlyThoseThatDoNotFit) {
    // Two lines filling the bound exactly (newlines included), one that does
    // not fit, then a short one that still does not: the bound is full.
    const size_t half = GitRewritePolicy::kMaxKeptBytes / 2;
    const std::string a(half - 1, 'a');
    const std::string b(half - 1, 'b');
    EXPECT_EQ(policy_.keep_lines({a, b}), 0u);
    EXPECT_EQ(policy_.kept_count(), 2u);
    EXPECT_EQ(policy_.keep_lines({a, b, "c"}), 1u);
    EXPECT_EQ(policy_.kept_count(), 2u);
    // A line too long is skipped, the shorter ones after it are kept.
    const std::string huge(GitRewritePolicy::kMaxKeptBytes, 'h');
    EXPECT_EQ(policy_.keep_lines({huge, "x", "y"}), 1u);
    EXPECT_EQ(policy_.render("t"), "https://x-access-token:t@github.com\nx\ny\n");
}

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
    refresh_.publish_delay_s = 0;  // no lag window: a young token's erase is a rejection
    auto rig = make_rig();
    prime(*rig);
    rig->apply_rewrite(parse_store_rewrite("", config_));
    ASSERT_TRUE(eventually([&] { return source_.calls() == 2 && !rig->refresh_in_flight(); }));
    EXPECT_EQ(rig->current()->token, "ghs_tok2");
    EXPECT_FALSE(rig->current()->rejected);
    EXPECT_EQ(rig->stats().rejections, 1u);
    EXPECT_EQ(rig->credential_for_read().credential->token, "ghs_tok2");
}

TEST_F(RigRewriteTest, AReportedRejectionOfTheCurrentTokenRefreshesAndKeepsTheLines) {
    refresh_.publish_delay_s = 0;  // no lag window: a young token's erase is a rejection
    auto rig = make_rig();
    prime(*rig);
    rig->apply_rewrite(parse_store_rewrite(
        "https://x-access-token:ghs_tok1@github.com\nhttps://a:b@gitlab.example\n", config_));
    EXPECT_FALSE(rig->report_rejected("ghs_older"));  // not the served token: nothing
    EXPECT_FALSE(rig->refresh_in_flight());
    EXPECT_EQ(source_.calls(), 1);
    EXPECT_TRUE(rig->report_rejected("ghs_tok1"));
    ASSERT_TRUE(eventually([&] { return source_.calls() == 2 && !rig->refresh_in_flight(); }));
    EXPECT_EQ(rig->current()->content,
              "https://x-access-token:ghs_tok2@github.com\nhttps://a:b@gitlab.example\n");
    EXPECT_EQ(rig->stats().rejections, 1u);
    EXPECT_FALSE(rig->report_rejected("ghs_tok1"));  // now an older token
    EXPECT_EQ(source_.calls(), 2);
}

TEST_F(RigRewriteTest, AtMostOneForcedRefreshPerCooldown) {
    refresh_.reject_cooldown_s = 5;
    refresh_.publish_delay_s = 0;  // no lag window: a young token's erase is a rejection
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
    refresh_.publish_delay_s = 0;  // no lag window: a young token's erase is a rejection
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

}  // namespace
}  // namespace credfs
