#include <gtest/gtest.h>

#include <fstream>

#include "credfs/engine/rig_registry.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

using test::eventually;
using test::FakeClock;
using test::FakeSource;

std::shared_ptr<const Config> config_with(std::initializer_list<const char*> files) {
    auto c = std::make_shared<Config>();
    for (const char* f : files) {
        RigConfig r;
        r.id = r.file = f;
        c->rigs.push_back(r);
    }
    c->refresh.min_ttl_s = 10;
    c->refresh.margin_s = 20;
    return c;
}

class RigRegistryTest : public ::testing::Test {
  protected:
    FakeClock clock_;
    std::shared_ptr<FakeSource> source_ = std::make_shared<FakeSource>(clock_, 60);
    test::TempDir dir_;
    BackingDir backing_{dir_.path()};
};

TEST_F(RigRegistryTest, ReloadAddsRemovesAndKeepsValidTokensWithoutUpstreamCalls) {
    RigRegistry registry(
        config_with({"a", "b"}), source_, clock_, [] { return 0.0; }, {}, &backing_);
    ASSERT_EQ(registry.find("a")->credential_for_read().error, 0);
    ASSERT_EQ(registry.find("b")->credential_for_read().error, 0);
    ASSERT_TRUE(eventually([&] { return backing_.read("b").has_value(); }));
    const std::string b_token = registry.find("b")->current()->token;
    const RigPtr held_a = registry.find("a");
    const int calls = source_->calls();

    const ReloadSummary s = registry.reload(config_with({"b", "c"}), source_);
    EXPECT_EQ(s.added, (std::vector<std::string>{"c"}));
    EXPECT_EQ(s.removed, (std::vector<std::string>{"a"}));
    EXPECT_EQ(s.kept, (std::vector<std::string>{"b"}));
    EXPECT_EQ(registry.find("a"), nullptr);
    EXPECT_TRUE(backing_.read("a").has_value());  // a removed rig's static file stays
    // The kept rig is seeded from its fallback file: same token, no call.
    EXPECT_EQ(registry.find("b")->credential_for_read().credential->token, b_token);
    EXPECT_EQ(source_->calls(), calls);
    // A reader that held the removed rig keeps working; it starts no refresh.
    EXPECT_EQ(held_a->credential_for_read().error, 0);
    EXPECT_EQ(held_a->refresh_async(RefreshTrigger::OnDemand).wait_for(std::chrono::seconds(0)),
              std::future_status::ready);
    EXPECT_EQ(source_->calls(), calls);
    ASSERT_EQ(registry.find("c")->credential_for_read().error, 0);
    EXPECT_EQ(source_->calls(), calls + 1);
}

// A reload (SIGHUP) while a new token is held back (refresh.publish_delay_s)
// keeps that token and its publication time: the fallback file still holds
// the previous one, whose refresh time has passed, so seeding from the file
// alone minted again and published that mint with hardly any delay.
TEST_F(RigRegistryTest, ReloadDuringAPublishDelayKeepsTheHeldBackToken) {
    RigRegistry registry(
        config_with({"a"}), source_, clock_, [] { return 0.0; }, {}, &backing_);
    const RigPtr old = registry.find("a");
    old->refresh_async(RefreshTrigger::Background).wait();
    const std::string first = old->current()->token;
    clock_.advance(40);  // the refresh time: 20 s (margin_s) before expiry
    old->refresh_async(RefreshTrigger::Background).wait();
    ASSERT_EQ(old->current()->token, first);  // the new one is held back 5 s
    const WallTime publish_at = old->next_publication_at();
    ASSERT_NE(publish_at, WallTime::max());
    const int calls = source_->calls();

    registry.reload(config_with({"a"}), source_);
    const RigPtr rig = registry.find("a");
    EXPECT_EQ(rig->current()->token, first);
    EXPECT_EQ(rig->next_publication_at(), publish_at);
    EXPECT_GT(rig->next_refresh_at(), clock_.now());  // nothing due: no mint
    clock_.advance(5);
    const ReadResult r = rig->credential_for_read();
    ASSERT_EQ(r.error, 0);
    EXPECT_NE(r.credential->token, first);
    EXPECT_EQ(source_->calls(), calls);
}

TEST_F(RigRegistryTest, ReloadWaitsForInFlightRefreshesOfTheOldRigs) {
    RigRegistry registry(
        config_with({"a"}), source_, clock_, [] { return 0.0; }, {}, &backing_);
    source_->hold();
    registry.find("a")->refresh_async(RefreshTrigger::Background);
    ASSERT_TRUE(source_->wait_for_waiting(1));
    std::thread release([&] { source_->release(); });
    registry.reload(config_with({"a"}), source_);  // returns once the old refresh landed
    release.join();
    // The new rig was seeded with the token the old refresh wrote through.
    ASSERT_TRUE(registry.find("a")->current());
    EXPECT_EQ(registry.find("a")->current()->token, "ghs_tok1");
}

TEST_F(RigRegistryTest, ARigWithItsOwnSourceUsesIt) {
    std::ofstream(dir_.path() + "/pat") << "ghp_own\n";
    auto config = std::make_shared<Config>(*config_with({"a", "b"}));
    SourceConfig own;
    own.type = SourceConfig::Type::Static;
    own.token_file = dir_.path() + "/pat";
    config->rigs[1].source = own;
    RigRegistry registry(config, source_, clock_, [] { return 0.0; }, {});
    EXPECT_EQ(registry.find("b")->credential_for_read().credential->token, "ghp_own");
    EXPECT_EQ(source_->calls(), 0);
    EXPECT_EQ(registry.find("a")->credential_for_read().credential->token, "ghs_tok1");
    EXPECT_EQ(source_->calls(), 1);
}

TEST_F(RigRegistryTest, FindRigTakesTheFileNameFirstThenTheId) {
    auto config = std::make_shared<Config>(*config_with({"a", "b"}));
    config->rigs[0].file = "b";  // rig a is served as file b
    config->rigs[1].file = "c";  // rig b as file c
    RigRegistry registry(config, source_, clock_, [] { return 0.0; }, {});
    EXPECT_EQ(registry.find_rig("b")->config().id, "a");
    EXPECT_EQ(registry.find_rig("c")->config().id, "b");
    EXPECT_EQ(registry.find_rig("a")->config().id, "a");
    EXPECT_EQ(registry.find_rig("d"), nullptr);
}

}  // namespace
}  // namespace credfs
