// The fixture shared by the tests of one Rig and its collaborators
// (rig_test, git_rewrite_policy_test, fallback_store_test): a rig "rig-a"
// on a fake clock and a scripted source minting 60 s tokens.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "credfs/engine/rig.hpp"
#include "test_support.hpp"

namespace credfs::test {

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

}  // namespace credfs::test
