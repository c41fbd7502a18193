// What a Rig tells the revoker (engine/revoker.hpp): the token it replaced,
// when a reader last had it, and whether it still serves a token.
#include <gtest/gtest.h>

#include <limits>

#include "credfs/engine/fallback_store.hpp"
#include "credfs/engine/rig_registry.hpp"
#include "rig_test_base.hpp"

namespace credfs {
namespace {

constexpr double kUnbounded = std::numeric_limits<double>::infinity();

class RigRevocationTest : public test::RigTestBase {
  protected:
    // These tests are about hand-over and hand-out; publication (and its lag
    // rule) is RotationTest's. The held-back case is tested on its own below.
    RigRevocationTest() { refresh_.publish_delay_s = 0; }

    Revoker revoker_{clock_, [] { return 0.0; }, refresh_,
                     [this](const std::string& t) { return rig_ && rig_->serves(t); }};
    std::unique_ptr<Rig> rig_;
};

TEST_F(RigRevocationTest, AReadStampsTheCredentialItHandsOut) {
    rig_ = make_rig();
    prime(*rig_);
    EXPECT_EQ(rig_->current()->last_handed_out(), WallTime{}) << "not read yet";
    clock_.advance(3);
    const ReadResult r = rig_->credential_for_read();
    ASSERT_EQ(r.error, 0);
    EXPECT_EQ(r.credential->last_handed_out(), clock_.now());
}

TEST_F(RigRevocationTest, AReplacedTokenGoesToTheRevokerAndIsRevokedOnlyWhenUnusedLongEnough) {
    rig_ = make_rig();
    rig_->set_revoker(&revoker_, 30);
    prime(*rig_);
    const std::string first = rig_->current()->token;
    clock_.advance(5);
    ASSERT_EQ(rig_->credential_for_read().error, 0);  // handed out at t=5
    clock_.advance(1);
    rig_->refresh_async(RefreshTrigger::Background).wait();  // replaced at t=6
    ASSERT_NE(rig_->current()->token, first);
    EXPECT_EQ(revoker_.stats().pending, 1u);
    clock_.advance(29);  // 29 s after the replacement, 30 after the read
    EXPECT_EQ(revoker_.revoke_due(clock_.now(), kUnbounded), 0);
    clock_.advance(1);
    EXPECT_EQ(revoker_.revoke_due(clock_.now(), kUnbounded), 1);
    EXPECT_EQ(source_.revoked(), std::vector<std::string>{first});
    EXPECT_NE(source_.revoked().front(), rig_->current()->token);
}

TEST_F(RigRevocationTest, AHeldBackTokensPredecessorIsHandedOverAtPublicationNotAtTheRefresh) {
    refresh_.publish_delay_s = 5;  // margin 20 - min_ttl 10 leaves room for it
    rig_ = make_rig();
    rig_->set_revoker(&revoker_, 30);
    prime(*rig_);
    const std::string first = rig_->current()->token;
    clock_.advance(1);
    rig_->refresh_async(RefreshTrigger::Background).wait();
    EXPECT_EQ(rig_->current()->token, first) << "held back: the first token is still served";
    EXPECT_EQ(revoker_.stats().pending, 0u);
    EXPECT_TRUE(rig_->serves(first));
    clock_.advance(2);
    ASSERT_EQ(rig_->credential_for_read().error, 0);  // handed out at t=3, during the hold
    clock_.advance(3);
    ASSERT_TRUE(rig_->publish_due(clock_.now()));  // published at t=6
    ASSERT_NE(rig_->current()->token, first);
    EXPECT_EQ(revoker_.stats().pending, 1u);
    // Until the new token leaves its lag window (delay + 10 s after its mint,
    // t=16) a lag erase could serve the first token again: it is still in use.
    EXPECT_TRUE(rig_->serves(first));
    clock_.advance(30);  // t=36: 30 s after publication and 33 after the last read
    EXPECT_FALSE(rig_->serves(first));
    EXPECT_EQ(revoker_.revoke_due(clock_.now(), kUnbounded), 1);
    EXPECT_EQ(source_.revoked(), std::vector<std::string>{first});
}

TEST_F(RigRevocationTest, GitsEraseKeepsTheLastHandOutOfTheSameToken) {
    rig_ = make_rig();
    prime(*rig_);
    clock_.advance(2);
    ASSERT_EQ(rig_->credential_for_read().error, 0);
    const WallTime read_at = clock_.now();
    source_.hold();  // the forced refresh waits: the marked copy stays current
    rig_->report_rejected(rig_->current()->token);
    ASSERT_TRUE(source_.wait_for_waiting(1));
    EXPECT_TRUE(rig_->current()->rejected);
    EXPECT_EQ(rig_->current()->last_handed_out(), read_at);
    source_.release();
}

TEST_F(RigRevocationTest, ServesTheCurrentTokenAndTheOneInItsFallbackFile) {
    test::TempDir dir;
    BackingDir backing(dir.path());
    rig_ = make_rig();
    rig_->set_fallback(std::make_unique<FallbackStore>(backing, config_));
    prime(*rig_);
    const std::string first = rig_->current()->token;
    EXPECT_TRUE(rig_->serves(first));
    ASSERT_TRUE(test::eventually([&] { return backing.read("rig-a").has_value(); }));
    // As after a failed write-through: the file holds an older token.
    backing.write_atomic("rig-a", render_store_line(config_, "ghs_in_the_file"));
    EXPECT_TRUE(rig_->serves("ghs_in_the_file"));
    EXPECT_TRUE(rig_->serves(first)) << "served now";
    EXPECT_FALSE(rig_->serves("ghs_other"));
}

TEST(RigRegistryRevocation, OnlyRigsWhoseSourceCanRevokeHandTokensOver) {
    test::FakeClock clock;
    auto config = std::make_shared<Config>();
    for (const char* id : {"a", "b"}) {
        RigConfig r;
        r.id = r.file = id;
        config->rigs.push_back(r);
    }
    config->refresh.min_ttl_s = 10;
    config->refresh.publish_delay_s = 0;  // hand-over at the refresh: publication is not the point
    config->source.revoke_after_s = 7;
    auto revoking = std::make_shared<test::FakeSource>(clock, 60);
    revoking->set_can_revoke(true);
    RigRegistry registry(config, revoking, clock, [] { return 0.0; }, {});
    Revoker revoker(
        clock, [] { return 0.0; }, config->refresh,
        [&registry](const std::string& t) { return registry.serves(t); });
    registry.set_revoker(&revoker);
    const RigPtr a = registry.find("a");
    const RigPtr b = registry.find("b");
    a->refresh_async(RefreshTrigger::Background).wait();
    b->refresh_async(RefreshTrigger::Background).wait();
    const std::string a_first = a->current()->token;
    EXPECT_TRUE(registry.serves(a_first));
    clock.advance(1);  // the next token expires later: newer
    a->refresh_async(RefreshTrigger::Background).wait();
    EXPECT_FALSE(registry.serves(a_first));
    EXPECT_EQ(revoker.stats().pending, 1u);
    clock.advance(7);
    EXPECT_EQ(revoker.revoke_due(clock.now(), kUnbounded), 1) << "revoke_after_s from the config";

    auto plain = std::make_shared<test::FakeSource>(clock, 60);  // cannot revoke
    RigRegistry other(config, plain, clock, [] { return 0.0; }, {});
    other.set_revoker(&revoker);
    other.find("a")->refresh_async(RefreshTrigger::Background).wait();
    clock.advance(1);
    other.find("a")->refresh_async(RefreshTrigger::Background).wait();
    ASSERT_EQ(other.find("a")->stats().refreshes, 2u);
    EXPECT_EQ(revoker.stats().pending, 0u);
}

}  // namespace
}  // namespace credfs
