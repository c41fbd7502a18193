// The upstream going away: an expired token is never served, and the mount
// recovers by itself once the upstream is back.
#include <cerrno>
#include <cstring>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

using fakes::WallClock;

class FailureTest : public MountTest {};

// docs/design.md, invariant 1: an expired token is never served; EIO instead.
TEST_F(FailureTest, ExpiredTokenWithUpstreamDownIsEIOThenRecovers) {
    harness_.allow_log_line("open fails with EIO: no unexpired token");  // the EIO under test
    fake_.set_ttl(2);
    RefreshParams refresh;
    refresh.margin_s = 0.5;
    refresh.min_ttl_s = 0.5;
    refresh.jitter_s = 0;
    refresh.read_timeout_s = 2;
    refresh.backoff_initial_s = 0.2;
    refresh.backoff_max_s = 1;
    ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, {{"rig-a", ""}}));
    ASSERT_TRUE(wait_for_token("rig-a").has_value());

    fake_.stop();
    std::optional<fakes::IssuedToken> last;
    ASSERT_TRUE(wait_until(
        [&] { return (last = fake_.latest("rig-a")) && WallClock::now() > last->expires_at; },
        10s));

    const ReadResult down = read_whole_file(harness_.file("rig-a"));
    EXPECT_EQ(down.error, EIO) << "got " << (down.error ? std::strerror(down.error) : "content")
                               << (down.error ? "" : ": " + down.data);
    ASSERT_TRUE(harness_.alive());

    fake_.start();
    const ReadResult up = read_whole_file(harness_.file("rig-a"));
    ASSERT_EQ(up.error, 0) << "first open after the upstream came back: "
                           << std::strerror(up.error);
    const auto token = token_from_line(up.data);
    ASSERT_TRUE(token.has_value());
    EXPECT_TRUE(fake_.is_valid(*token));
    EXPECT_EQ(fake_.current_token("rig-a").value_or("<none>"), *token);
}

}  // namespace
}  // namespace credfs::itest
