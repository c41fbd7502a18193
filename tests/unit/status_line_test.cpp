// status_line(): the one line systemd shows (STATUS=), counts of rig states.
#include <gtest/gtest.h>

#include "credfs/engine/refresh_scheduler.hpp"
#include "credfs/engine/status.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

using test::all_idle;
using test::eventually;
using test::FakeClock;
using test::FakeSource;
using test::rigs_config;

TEST(StatusLine, CountsEachStateAndNeverNamesAToken) {
    FakeClock clock;
    FakeSource source(clock, 60);
    Config config = rigs_config({"a", "b", "c"});
    config.refresh.publish_delay_s = 0;
    RefreshScheduler scheduler(clock);
    RigRegistry registry(
        config, source, clock, [] { return 0.0; }, scheduler.notifier());
    EXPECT_EQ(status_line(*registry.rigs(), "mount", clock.now()),
              "serving 3 rigs: 0 ok, 0 stale, 0 failing, 3 without a token");

    source.push(std::nullopt);  // the first fetch fails: that rig has no token yet
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 3; }));
    const std::string line = status_line(*registry.rigs(), "mount", clock.now());
    EXPECT_EQ(line, "serving 3 rigs: 2 ok, 0 stale, 0 failing, 1 without a token");
    for (const auto& rig : registry.rigs()->rigs) {
        if (const CredentialPtr cred = rig->current()) {
            EXPECT_EQ(line.find(cred->token), std::string::npos);
        }
    }

    clock.advance(56);  // 4 s left, under min_ttl_s 5; no refresh ran
    EXPECT_EQ(status_line(*registry.rigs(), "files", clock.now()),
              "serving 3 rigs: 0 ok, 2 stale, 0 failing, 1 without a token (files mode)");
    clock.advance(5);
    EXPECT_EQ(status_line(*registry.rigs(), "mount", clock.now()),
              "serving 3 rigs: 0 ok, 0 stale, 0 failing, 2 expired, 1 without a token");
}

TEST(StatusLine, OneRigIsSingular) {
    FakeClock clock;
    FakeSource source(clock, 60);
    Config config = rigs_config({"a"});
    config.refresh.publish_delay_s = 0;
    RefreshScheduler scheduler(clock);
    RigRegistry registry(
        config, source, clock, [] { return 0.0; }, scheduler.notifier());
    scheduler.run_due(registry, clock.now());
    ASSERT_TRUE(eventually([&] { return all_idle(registry) && source.calls() == 1; }));
    EXPECT_EQ(status_line(*registry.rigs(), "mount", clock.now()),
              "serving 1 rig: 1 ok, 0 stale, 0 failing");
}

}  // namespace
}  // namespace credfs
