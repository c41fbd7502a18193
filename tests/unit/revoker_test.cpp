// The revoker's rules, on an injected clock (engine/revoker.hpp).
#include "credfs/engine/revoker.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <limits>
#include <set>

#include "test_support.hpp"

namespace credfs {
namespace {

constexpr double kUnbounded = std::numeric_limits<double>::infinity();

/// A source that records revocations and answers as scripted (default 204).
class RevokingSource final : public TokenSource {
  public:
    Token fetch(const RigConfig& /*rig*/) override { throw SourceError("not used"); }
    std::string type_name() const override { return "revoking"; }
    bool can_revoke() const override { return true; }
    RevokeOutcome revoke(const std::string& token, double max_s) override {
        std::lock_guard lock(mu);
        asked.push_back(token);
        budgets.push_back(max_s);
        if (answers.empty()) return {RevokeOutcome::Result::Revoked, "", 0};
        RevokeOutcome next = answers.front();
        answers.pop_front();
        return next;
    }
    std::mutex mu;
    std::vector<std::string> asked;
    std::vector<double> budgets;
    std::deque<RevokeOutcome> answers;
};

class RevokerTest : public ::testing::Test {
  protected:
    RevokerTest() {
        backoff_.backoff_initial_s = 1;
        backoff_.backoff_max_s = 8;
    }
    CredentialPtr cred(const std::string& token, double ttl_s = 3600) {
        return std::make_shared<const Credential>(token, clock_.now() + to_wall_duration(ttl_s),
                                                  clock_.now(), "line\n");
    }
    Revoker make() {
        return Revoker(
            clock_, [] { return 0.0; }, backoff_,
            [this](const std::string& t) { return in_use_.count(t) > 0; });
    }
    int due(Revoker& r) { return r.revoke_due(clock_.now(), kUnbounded); }

    test::FakeClock clock_;
    RefreshConfig backoff_;
    std::set<std::string> in_use_;
    RevokingSource source_;
};

TEST_F(RevokerTest, RevokesOnlyOnceUnhandedOutForRevokeAfter) {
    Revoker r = make();
    const CredentialPtr old = cred("ghs_old");
    old->mark_handed_out(clock_.now());
    r.hand_over(old, "a", source_, nullptr, 600);
    clock_.advance(599);
    EXPECT_EQ(due(r), 0);
    // A reader that took it just before the replacement: counted from then.
    old->mark_handed_out(clock_.now());
    clock_.advance(2);
    EXPECT_EQ(due(r), 0) << "handed out 2 s ago";
    EXPECT_EQ(r.next_due(), old->last_handed_out() + to_wall_duration(600));
    clock_.advance(598);
    EXPECT_EQ(due(r), 1);
    EXPECT_EQ(source_.asked, std::vector<std::string>{"ghs_old"});
    EXPECT_EQ(r.stats().revoked, 1u);
    EXPECT_EQ(r.stats().pending, 0u);
    clock_.advance(10000);
    EXPECT_EQ(due(r), 0) << "revoked once, never again";
}

TEST_F(RevokerTest, ASharedTokenWaitsWhileAnyRigServesIt) {
    Revoker r = make();
    r.hand_over(cred("ghs_shared"), "a", source_, nullptr, 10);
    in_use_.insert("ghs_shared");  // rig b still serves it
    clock_.advance(11);
    EXPECT_EQ(due(r), 0);
    EXPECT_TRUE(source_.asked.empty());
    EXPECT_EQ(r.stats().pending, 1u);
    // b replaces it too: the same entry, counted from b's replacement.
    in_use_.clear();
    r.hand_over(cred("ghs_shared"), "b", source_, nullptr, 10);
    EXPECT_EQ(r.stats().pending, 1u) << "one token, one entry";
    clock_.advance(9);
    EXPECT_EQ(due(r), 0);
    clock_.advance(2);
    EXPECT_EQ(due(r), 1);
    EXPECT_EQ(source_.asked.size(), 1u);
}

TEST_F(RevokerTest, TheTokenInAFallbackFileIsNeverRevoked) {
    // in_use is Rig::serves, which also reads the fallback file: a token
    // still there (its write-through failed) stays valid however long.
    Revoker r = make();
    r.hand_over(cred("ghs_in_file", 100000), "a", source_, nullptr, 1);
    in_use_.insert("ghs_in_file");
    for (int i = 0; i < 50; ++i) {
        clock_.advance(60);
        EXPECT_EQ(due(r), 0);
    }
    EXPECT_TRUE(source_.asked.empty());
}

TEST_F(RevokerTest, A401CountsAsDone) {
    Revoker r = make();
    source_.answers.push_back({RevokeOutcome::Result::AlreadyDead, "", 0});
    r.hand_over(cred("ghs_dead"), "a", source_, nullptr, 1);
    clock_.advance(2);
    EXPECT_EQ(due(r), 1);
    EXPECT_EQ(r.stats().already_dead, 1u);
    EXPECT_EQ(r.stats().failures, 0u);
    EXPECT_EQ(r.stats().pending, 0u);
    clock_.advance(100);
    EXPECT_EQ(due(r), 0);
}

TEST_F(RevokerTest, FailuresAreRetriedWithBackoffUntilDone) {
    Revoker r = make();
    for (int i = 0; i < 3; ++i) {
        source_.answers.push_back({RevokeOutcome::Result::Failed, "HTTP 502", 0});
    }
    r.hand_over(cred("ghs_x"), "a", source_, nullptr, 1);
    clock_.advance(1);
    EXPECT_EQ(due(r), 1);  // fails; retry after 1 s (backoff_initial_s, draw 0)
    EXPECT_EQ(due(r), 0) << "not again at once";
    clock_.advance(0.9);
    EXPECT_EQ(due(r), 0);
    clock_.advance(0.1);
    EXPECT_EQ(due(r), 1);  // fails; retry after 2 s
    clock_.advance(1.9);
    EXPECT_EQ(due(r), 0);
    clock_.advance(0.1);
    EXPECT_EQ(due(r), 1);  // fails; retry after 4 s
    clock_.advance(4);
    EXPECT_EQ(due(r), 1);  // revoked
    EXPECT_EQ(r.stats().failures, 3u);
    EXPECT_EQ(r.stats().revoked, 1u);
    EXPECT_EQ(source_.asked.size(), 4u);
}

TEST_F(RevokerTest, AnUpstreamsRetryAfterIsObeyed) {
    Revoker r = make();
    source_.answers.push_back({RevokeOutcome::Result::Failed, "HTTP 403 rate limited", 30});
    r.hand_over(cred("ghs_x"), "a", source_, nullptr, 1);
    clock_.advance(1);
    EXPECT_EQ(due(r), 1);
    clock_.advance(29);
    EXPECT_EQ(due(r), 0);
    clock_.advance(1);
    EXPECT_EQ(due(r), 1);
}

TEST_F(RevokerTest, AnExpiredTokenIsDroppedWithoutARequest) {
    Revoker r = make();
    source_.answers.push_back({RevokeOutcome::Result::Failed, "down", 0});
    r.hand_over(cred("ghs_short", 5), "a", source_, nullptr, 1);
    clock_.advance(1);
    EXPECT_EQ(due(r), 1);
    clock_.advance(10);
    EXPECT_EQ(due(r), 0);
    EXPECT_EQ(r.stats().pending, 0u);
    EXPECT_EQ(source_.asked.size(), 1u);
}

TEST_F(RevokerTest, AShutdownRevokesOnlyDueTokensWithinItsBudget) {
    Revoker r = make();
    r.hand_over(cred("ghs_due1"), "a", source_, nullptr, 10);
    r.hand_over(cred("ghs_due2"), "b", source_, nullptr, 10);
    clock_.advance(11);
    r.hand_over(cred("ghs_recent"), "c", source_, nullptr, 10);  // replaced just now
    in_use_.insert("ghs_current");
    r.hand_over(cred("ghs_current"), "d", source_, nullptr, 0);  // served again by a rig
    EXPECT_EQ(r.revoke_due(clock_.now(), 5), 2);
    EXPECT_EQ(std::set<std::string>(source_.asked.begin(), source_.asked.end()),
              (std::set<std::string>{"ghs_due1", "ghs_due2"}));
    for (double b : source_.budgets) {
        EXPECT_LE(b, 5) << "each request is bounded by what is left of the budget";
    }
    EXPECT_EQ(r.stats().pending, 2u);
}

TEST_F(RevokerTest, NoBudgetLeftMeansNoRequest) {
    Revoker r = make();
    r.hand_over(cred("ghs_due"), "a", source_, nullptr, 0);
    EXPECT_EQ(r.revoke_due(clock_.now(), 0), 0);
    EXPECT_TRUE(source_.asked.empty());
}

TEST_F(RevokerTest, TheThreadRevokesWhenDue) {
    test::FakeClock clock;  // not advanced: revoke_after_s 0 is due at once
    Revoker r(
        clock, [] { return 0.0; }, backoff_, [](const std::string&) { return false; });
    r.start();
    r.hand_over(std::make_shared<const Credential>("ghs_t", clock.now() + std::chrono::hours(1),
                                                   clock.now(), "x\n"),
                "a", source_, nullptr, 0);
    EXPECT_TRUE(test::eventually([&] { return r.stats().revoked != 0; }));
    r.stop();
    EXPECT_EQ(r.stats().revoked, 1u);
}

}  // namespace
}  // namespace credfs
