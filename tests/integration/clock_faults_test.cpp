// Clock faults (issue #7, item 2; docs/design.md, invariant 7): the daemon is
// frozen (SIGSTOP, as a suspended container is) for longer than its token
// lives. Wall-clock time moves on; the first read after waking must get a
// fresh token, never the expired one, within read_timeout_s.
#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <thread>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

using fakes::WallClock;

constexpr double kReadTimeoutS = 3;
constexpr double kMinTtlS = 1;

/// The process state letter from /proc/<pid>/stat ('T': stopped).
char process_state(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(in, line);
    const auto paren = line.rfind(')');
    return paren == std::string::npos || paren + 2 >= line.size() ? '?' : line[paren + 2];
}

/// SIGCONTs the daemon when it goes out of scope, so a failed assertion
/// never leaves a stopped daemon (and a mount nobody answers) behind.
class Frozen {
  public:
    explicit Frozen(pid_t pid) : pid_(pid) { ::kill(pid_, SIGSTOP); }
    ~Frozen() { thaw(); }
    Frozen(const Frozen&) = delete;
    Frozen& operator=(const Frozen&) = delete;
    void thaw() {
        if (pid_ > 0) ::kill(pid_, SIGCONT);
        pid_ = -1;
    }

  private:
    pid_t pid_;
};

class ClockFaultTest : public MountTest {
  protected:
    void start() {
        fake_.set_ttl(3);
        RefreshParams r;
        r.margin_s = 1;
        r.min_ttl_s = kMinTtlS;
        r.jitter_s = 0;
        r.read_timeout_s = kReadTimeoutS;
        r.backoff_initial_s = 0.2;
        r.backoff_max_s = 1;
        ASSERT_NO_FATAL_FAILURE(start_daemon(r, {{"rig-a", ""}}));
        ASSERT_TRUE(wait_for_token("rig-a").has_value());
        ASSERT_EQ(read_whole_file(harness_.file("rig-a")).error, 0);
    }

    /// Freezes the daemon until the wall clock is 1 s past the expiry of
    /// every token it could hold, then lets it run again. Returns the newest
    /// token issued before the freeze.
    std::optional<fakes::IssuedToken> sleep_past_expiry() {
        Frozen frozen(harness_.pid());
        EXPECT_TRUE(wait_until([&] { return process_state(harness_.pid()) == 'T'; }, 5s))
            << "the daemon did not stop";
        // Taken once the daemon is stopped: it can fetch nothing newer.
        const auto last = fake_.latest("rig-a");
        if (!last) return last;
        const int calls = fake_.calls();
        EXPECT_TRUE(
            wait_until([&] { return WallClock::now() > last->expires_at + 1s; }, 20s, 50ms));
        EXPECT_EQ(fake_.calls(), calls) << "a stopped daemon called the upstream";
        frozen.thaw();
        return last;
    }
};

TEST_F(ClockFaultTest, FirstReadAfterASuspensionPastExpiryGetsAFreshToken) {
    ASSERT_NO_FATAL_FAILURE(start());
    const auto expired = sleep_past_expiry();
    ASSERT_TRUE(expired.has_value());

    // The read runs on its own thread with a generous deadline: a daemon that
    // hung after waking fails the test instead of hanging it.
    auto done = std::make_shared<std::promise<ReadResult>>();
    std::future<ReadResult> result = done->get_future();
    std::thread reader(
        [done, path = harness_.file("rig-a")] { done->set_value(read_whole_file(path)); });
    const bool answered =
        result.wait_for(std::chrono::milliseconds(static_cast<int>(kReadTimeoutS * 1000)) + 8s) ==
        std::future_status::ready;
    if (!answered) {
        ADD_FAILURE() << "the first read after waking did not return";
        harness_.stop();
    }
    reader.join();
    const ReadResult r = result.get();
    const auto read_at = WallClock::now();
    ASSERT_EQ(r.error, 0) << std::strerror(r.error);
    const auto token = token_from_line(r.data);
    ASSERT_TRUE(token.has_value());
    EXPECT_NE(*token, expired->token) << "served the token that expired during the suspension";
    EXPECT_TRUE(fake_.is_valid(*token));
    const auto issued = fake_.issued("rig-a");
    const auto served =
        std::find_if(issued.begin(), issued.end(),
                     [&](const fakes::IssuedToken& t) { return t.token == *token; });
    ASSERT_NE(served, issued.end()) << "served a token the upstream never issued";
    // docs/design.md, invariant 1, judged conservatively at the time the read returned.
    EXPECT_GE(std::chrono::duration<double>(served->expires_at - read_at).count(), kMinTtlS)
        << "the token read after waking had less than min_ttl_s left";
}

// Without any read, the scheduler refreshes by itself within seconds of
// waking (it wakes at least once a second and judges due times on wall time).
TEST_F(ClockFaultTest, TheSchedulerRefreshesByItselfAfterWaking) {
    ASSERT_NO_FATAL_FAILURE(start());
    const auto expired = sleep_past_expiry();
    ASSERT_TRUE(expired.has_value());
    const std::size_t before = fake_.issued("rig-a").size();
    EXPECT_TRUE(wait_until([&] { return fake_.issued("rig-a").size() > before; }, 10s))
        << "no background refresh after waking";
    EXPECT_TRUE(fake_.current("rig-a").has_value());
}

}  // namespace
}  // namespace credfs::itest
