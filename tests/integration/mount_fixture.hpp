// Shared fixture: a fake Gastown upstream in this process and the daemon on a
// temp mount pointed at it. Members are declared so that the daemon is torn
// down before the fake stops: the daemon never sees its upstream vanish
// during teardown.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "daemon_harness.hpp"
#include "fake_gastown.hpp"

namespace credfs::itest {

class MountTest : public ::testing::Test {
  protected:
    // Shaped like a real JWT on purpose: a daemon that redacts by pattern
    // and one that never logs it at all must both pass.
    static constexpr char kJwt[] =
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjb250YWluZXItaXQifQ.aXQtc2lnbmF0dXJlLW9ubHk";

    MountTest() : fake_(kJwt) {}

    void TearDown() override {
        // A failed start() already carries the diagnostics in its message.
        if (HasFailure() && mounted_once_) std::cerr << harness_.diagnostics();
    }

    /// Writes the JWT and config and mounts. Use with ASSERT_NO_FATAL_FAILURE.
    void start_daemon(const RefreshParams& refresh, const std::vector<RigSpec>& rigs) {
        harness_.write_jwt(kJwt);
        harness_.write_config(fake_.base_url(), refresh, rigs);
        ASSERT_TRUE(harness_.start());
        mounted_once_ = true;
    }

    /// Waits until the fake has a valid token for `rig` (the daemon fetches
    /// one at startup) and returns it.
    std::optional<fakes::IssuedToken> wait_for_token(const std::string& rig,
                                                     std::chrono::milliseconds timeout = 10s) {
        std::optional<fakes::IssuedToken> t;
        wait_until([&] { return (t = fake_.current(rig)).has_value(); }, timeout);
        return t;
    }

    /// Seconds of life the token has left at the current wall time.
    static double seconds_left(const fakes::IssuedToken& t) {
        return std::chrono::duration<double>(t.expires_at - fakes::WallClock::now()).count();
    }

    fakes::FakeGastown fake_;
    DaemonHarness harness_;
    bool mounted_once_ = false;
};

}  // namespace credfs::itest
