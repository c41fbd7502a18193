// The static files under the mount: written through on every refresh,
// renewed in files mode after an unmount, seeding a restart, and other files shown read-only.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

class FallbackTest : public MountTest {
  protected:
    void TearDown() override {
        if (dir_fd_ >= 0) ::close(dir_fd_);
        MountTest::TearDown();
    }
    /// The directory the mount will hide, opened before mounting (as the
    /// daemon does) so the test can read the static files underneath.
    void open_hidden_dir() {
        dir_fd_ = ::open(harness_.mountpoint().c_str(), O_RDONLY | O_DIRECTORY);
        ASSERT_GE(dir_fd_, 0) << std::strerror(errno);
    }
    std::string hidden(const std::string& name) const {
        const int fd = ::openat(dir_fd_, name.c_str(), O_RDONLY);
        if (fd < 0) return "";
        std::string out;
        char buf[4096];
        for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, n);
        ::close(fd);
        return out;
    }
    std::string static_file(const std::string& name) const {
        std::ifstream in(harness_.mountpoint() + "/" + name);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    int dir_fd_ = -1;
};

TEST_F(FallbackTest, EveryRefreshIsWrittenThroughWholeLinesOnly) {
    fake_.set_ttl(3);
    RefreshParams refresh;
    refresh.margin_s = 1;
    refresh.min_ttl_s = 0.5;
    refresh.jitter_s = 0.3;
    ASSERT_NO_FATAL_FAILURE(open_hidden_dir());
    ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, {{"rig-a", ""}}));
    std::atomic<bool> stop{false};
    std::atomic<int> reads{0}, partial{0};
    std::thread reader([&] {
        while (!stop) {
            const std::string content = hidden("rig-a");
            ++reads;
            if (!content.empty() && !token_from_line(content)) ++partial;
        }
    });
    const bool refreshed = wait_until([&] { return fake_.calls("rig-a") >= 4; }, 20s);
    const bool caught_up = wait_until(
        [&] {
            const auto t = token_from_line(hidden("rig-a"));
            return t && t == fake_.latest("rig-a").value_or(fakes::IssuedToken{}).token;
        },
        10s);
    stop = true;
    reader.join();
    EXPECT_TRUE(refreshed);
    EXPECT_TRUE(caught_up) << "the static file does not hold the newest token";
    EXPECT_GT(reads.load(), 0);
    EXPECT_EQ(partial.load(), 0) << "a reader of the static file saw a partial file";
}

// Someone runs `fusermount3 -u` on the live mount: the daemon goes on in
// files mode over the same directory, renewing the static files, until
// SIGTERM.
TEST_F(FallbackTest, ExternalUnmountKeepsRenewingTheFilesUntilSigterm) {
    fake_.set_ttl(3);
    RefreshParams refresh;
    // Half a 3-s life: a renewed file's token has 1.5 s left, longer than a
    // read and its check at the fake take (files mode never refreshes on read).
    refresh.margin_s = 1.5;
    refresh.min_ttl_s = 1;
    refresh.jitter_s = 0.2;
    ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, {{"rig-a", ""}}));
    ASSERT_TRUE(wait_for_token("rig-a").has_value());
    ASSERT_TRUE(
        wait_until([&] { return harness_.log_text().find("serving") != std::string::npos; }, 10s));
    const ProcessResult u = run_process({"fusermount3", "-u", harness_.mountpoint()}, "", 20s);
    ASSERT_EQ(u.exit_code, 0) << u.error;
    ASSERT_TRUE(wait_until(
        [&] {
            return harness_.log_text().find("the mount at " + harness_.mountpoint() +
                                            " went away while serving") != std::string::npos;
        },
        10s))
        << harness_.diagnostics();
    EXPECT_FALSE(harness_.mounted());

    std::set<std::string> seen;
    int reads = 0, invalid = 0, unreadable = 0;
    const bool renewed = wait_until(
        [&] {
            const auto token = token_from_line(static_file("rig-a"));
            ++reads;
            if (!token) {
                ++unreadable;
            } else {
                if (!fake_.is_valid(*token)) ++invalid;
                seen.insert(*token);
            }
            return seen.size() >= 7 || !harness_.alive();
        },
        30s, 5ms);
    EXPECT_TRUE(renewed) << seen.size() << " distinct tokens in 30 s";
    EXPECT_TRUE(harness_.alive()) << "the daemon exited after the unmount";
    // The token at the unmount and six renewals at half life after it: three
    // whole lifetimes in files mode.
    EXPECT_GE(seen.size(), 7u);
    EXPECT_EQ(invalid, 0) << "the file held a token the upstream no longer accepts (" << reads
                          << " reads)";
    EXPECT_EQ(unreadable, 0) << "the file was missing or not one managed line";

    ASSERT_EQ(::kill(harness_.pid(), SIGTERM), 0);
    ASSERT_TRUE(wait_until([&] { return !harness_.alive(); }, 10s)) << "SIGTERM did not stop it";
    ASSERT_TRUE(harness_.exit_status().has_value());
    EXPECT_TRUE(WIFEXITED(*harness_.exit_status()));
    EXPECT_EQ(WEXITSTATUS(*harness_.exit_status()), 0);
}

TEST_F(FallbackTest, ARestartServesTheStillValidTokenWithoutAnUpstreamCall) {
    fake_.set_ttl(3600);
    std::ofstream(harness_.mountpoint() + "/rig-a")
        << "https://alice:pw@gitlab.example\n";  // a line of another host, kept
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    const ReadResult first = read_whole_file(harness_.file("rig-a"));
    ASSERT_EQ(first.error, 0);
    EXPECT_NE(first.data.find("https://alice:pw@gitlab.example\n"), std::string::npos);
    harness_.stop();
    const int calls = fake_.calls("rig-a");
    ASSERT_TRUE(harness_.start());
    const ReadResult second = read_whole_file(harness_.file("rig-a"));
    ASSERT_EQ(second.error, 0);
    EXPECT_EQ(second.data, first.data);
    EXPECT_EQ(fake_.calls("rig-a"), calls) << "the restart fetched although the token was valid";
}

TEST_F(FallbackTest, OtherFilesUnderTheMountStayVisibleReadOnly) {
    std::ofstream(harness_.mountpoint() + "/team-creds") << "https://bob:pw@other.example\n";
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    const ReadResult r = read_whole_file(harness_.file("team-creds"));
    ASSERT_EQ(r.error, 0);
    EXPECT_EQ(r.data, "https://bob:pw@other.example\n");
    EXPECT_LT(::open(harness_.file("team-creds").c_str(), O_WRONLY | O_APPEND), 0);
    EXPECT_EQ(errno, EROFS);
    EXPECT_NE(::unlink(harness_.file("team-creds").c_str()), 0);
    EXPECT_EQ(errno, EROFS);
    // The daemon's own state files stay out of the listing.
    const ProcessResult ls = run_process({"ls", "-A", harness_.mountpoint()}, "", 20s);
    EXPECT_EQ(ls.output, ".metrics\n.status\nrig-a\nteam-creds\n");
}

}  // namespace
}  // namespace credfs::itest
