// Refresh behaviour seen from outside: background renewal with no readers,
// one upstream call for a herd of stale readers, and per-handle snapshots.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

using fakes::WallClock;

// Threads of this process blocked in system call `nr` right now, from
// /proc/self/task/*/syscall (its first field is the call number).
int threads_in_syscall(long nr) {
    int n = 0;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
        std::ifstream in(task.path() / "syscall");
        long current = -1;
        if (in >> current && current == nr) ++n;
    }
    return n;
}

double seconds_between(WallClock::time_point from, WallClock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
}

class RefreshTest : public MountTest {};

// docs/design.md, invariant 3: with nobody reading, every token is renewed ahead of expiry.
TEST_F(RefreshTest, BackgroundRefreshRenewsBeforeExpiryWithoutReads) {
    constexpr double kTtl = 3;
    fake_.set_ttl(kTtl);
    RefreshParams refresh;
    refresh.margin_s = 1;
    refresh.jitter_s = 0.3;
    refresh.min_ttl_s = 0.5;
    refresh.read_timeout_s = 2;
    ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, {{"rig-a", ""}, {"rig-b", "b.cred"}}));

    // An observation window, not a wait for a condition: nothing may read the
    // mount during it. The daemon staying alive is the only thing checked.
    const bool died = wait_until([&] { return !harness_.alive(); }, 10s, 50ms);
    ASSERT_FALSE(died) << "daemon exited during the observation window";

    for (const std::string rig : {"rig-a", "rig-b"}) {
        SCOPED_TRACE(rig);
        const auto issued = fake_.issued(rig);
        ASSERT_GE(issued.size(), 4u) << "expected the first token and at least 3 refreshes";
        // About (10 s / ~1.85 s) refreshes are expected; many more is a spin.
        EXPECT_LE(issued.size(), 10u) << "refreshing far more often than margin/jitter allow";
        EXPECT_EQ(fake_.calls(rig), static_cast<int>(issued.size()));
        for (std::size_t i = 1; i < issued.size(); ++i) {
            const double early = seconds_between(issued[i].issued_at, issued[i - 1].expires_at);
            EXPECT_GT(early, 0) << "token " << i << " was issued " << -early << " s after token "
                                << i - 1 << " expired";
        }
        EXPECT_TRUE(fake_.current(rig).has_value()) << "no valid token at the end";
    }
}

// docs/design.md, invariant 2: N concurrent stale readers of one rig cause one upstream call.
TEST_F(RefreshTest, HerdOfStaleReadersCausesOneUpstreamCall) {
    constexpr int kReaders = 50;
    fake_.set_ttl(3);
    RefreshParams refresh;
    refresh.margin_s = 0.2;
    refresh.min_ttl_s = 2;
    refresh.jitter_s = 0;
    refresh.read_timeout_s = 10;
    ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, {{"rig-a", ""}}));
    const auto first = wait_for_token("rig-a");
    ASSERT_TRUE(first.has_value()) << "daemon fetched no token at startup";

    // Stale for readers (< min_ttl left) but before the background refresh
    // (0.2 s before expiry) gets to it.
    std::optional<fakes::IssuedToken> old;
    ASSERT_TRUE(wait_until(
        [&] { return (old = fake_.latest("rig-a")) && seconds_left(*old) < 1.9; }, 5s, 5ms));
    ASSERT_GT(seconds_left(*old), 0.5) << "test too slow to catch the stale window";

    const int calls_before = fake_.calls();
    fake_.set_ttl(60);
    fake_.hold();
    std::atomic<int> arrived{0};
    std::vector<ReadResult> results(kReaders);
    std::vector<std::thread> readers;
    for (int i = 0; i < kReaders; ++i) {
        readers.emplace_back([&, i] {
            ++arrived;
            results[i] = read_whole_file(harness_.file("rig-a"));
        });
    }
    const bool one_held = fake_.wait_for_held(1, SteadyClock::now() + 10s);
    const bool all_arrived = wait_until([&] { return arrived.load() == kReaders; }, 10s, 5ms);
    // Best effort, not asserted: let every reader get into open() inside
    // the kernel, so the release meets a real herd rather than a queue of
    // threads that have not started yet.
    const bool all_in_open =
        wait_until([&] { return threads_in_syscall(SYS_openat) >= kReaders; }, 5s, 5ms);
    const int held_at_release = fake_.held();
    fake_.release();
    for (auto& t : readers) t.join();
    ASSERT_TRUE(one_held) << "no refresh reached the upstream";
    ASSERT_TRUE(all_arrived);
    EXPECT_EQ(held_at_release, 1);
    if (!all_in_open) std::cerr << "note: not all readers were seen blocked in openat\n";

    EXPECT_EQ(fake_.calls() - calls_before, 1) << "stale readers were not single-flighted";
    const auto fresh = fake_.latest("rig-a");
    ASSERT_TRUE(fresh.has_value());
    ASSERT_NE(fresh->token, old->token);
    int wrong = 0;
    for (int i = 0; i < kReaders; ++i) {
        if (results[i].error != 0 || token_from_line(results[i].data) != fresh->token) {
            if (++wrong <= 3) {
                ADD_FAILURE() << "reader " << i << ": "
                              << (results[i].error ? std::strerror(results[i].error)
                                                   : "did not get the new token");
            }
        }
    }
    EXPECT_EQ(wrong, 0);

    // The replaced token's background refresh must be forgotten, not fired.
    wait_until([&] { return WallClock::now() > old->expires_at + std::chrono::milliseconds(500); },
               5s);
    EXPECT_EQ(fake_.calls() - calls_before, 1)
        << "the old token's background refresh still ran after the on-demand one replaced it";
}

// Pitfall 3: a refresh between two read() calls must not mix tokens. Also
// pitfall 7: the new token is longer, and st_size follows it.
TEST_F(RefreshTest, OpenHandleKeepsOneWholeLineAcrossARefresh) {
    fake_.set_ttl(4);
    RefreshParams refresh;
    refresh.margin_s = 0.2;
    refresh.min_ttl_s = 2;
    refresh.jitter_s = 0;
    refresh.read_timeout_s = 10;
    ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, {{"rig-a", ""}}));
    ASSERT_TRUE(wait_for_token("rig-a").has_value());

    const int fd = ::open(harness_.file("rig-a").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    const std::size_t issued_at_open = fake_.issued("rig-a").size();
    std::string content(10, '\0');
    ASSERT_EQ(::pread(fd, content.data(), content.size(), 0), 10) << std::strerror(errno);

    // Make the next token longer (GitHub's newer ones are ~520 characters)
    // and force a refresh by opening again once the token is stale.
    fake_.set_token_length(120);
    fake_.set_ttl(60);
    std::optional<fakes::IssuedToken> t;
    ASSERT_TRUE(wait_until([&] { return (t = fake_.latest("rig-a")) && seconds_left(*t) < 1.9; },
                           10s, 5ms));
    const ReadResult second = read_whole_file(harness_.file("rig-a"));
    ASSERT_EQ(second.error, 0) << std::strerror(second.error);
    const auto new_token = token_from_line(second.data);
    ASSERT_TRUE(new_token.has_value());
    EXPECT_EQ(new_token->size(), 4u + 120u);
    EXPECT_TRUE(fake_.is_valid(*new_token));
    ASSERT_GT(fake_.issued("rig-a").size(), issued_at_open) << "no refresh happened";

    // The old handle: read the rest in small pieces.
    char buf[7];
    while (true) {
        const ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(content.size()));
        ASSERT_GE(n, 0) << std::strerror(errno);
        if (n == 0) break;
        content.append(buf, static_cast<std::size_t>(n));
        ASSERT_LT(content.size(), 4096u);
    }
    ::close(fd);
    const auto old_token = token_from_line(content);
    ASSERT_TRUE(old_token.has_value()) << "old handle gave a mixed or broken line: " << content;
    EXPECT_NE(*old_token, *new_token);
    const auto issued = fake_.issued("rig-a");
    const bool issued_before_open =
        std::any_of(issued.begin(), issued.begin() + static_cast<long>(issued_at_open),
                    [&](const fakes::IssuedToken& x) { return x.token == *old_token; });
    EXPECT_TRUE(issued_before_open) << "old handle's token was not one issued before it opened";

    // Pitfalls 1 and 2: a new open sees the new bytes, and the size matches.
    struct stat st {};
    ASSERT_EQ(::stat(harness_.file("rig-a").c_str(), &st), 0);
    EXPECT_EQ(static_cast<std::size_t>(st.st_size), second.data.size());
    const ReadResult third = read_whole_file(harness_.file("rig-a"));
    EXPECT_EQ(third.data, second.data);
}

}  // namespace
}  // namespace credfs::itest
