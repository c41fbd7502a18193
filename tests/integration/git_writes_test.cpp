// git's credential-store helper writing through the mount: `approve` (store)
// and `reject` (erase) rewrite a rig file through <file>.lock.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

class GitWritesTest : public MountTest {
  protected:
    // Long-lived tokens: every read here is fresh, so upstream calls count
    // only refreshes the rewrites cause.
    void SetUp() override { fake_.set_ttl(3600); }

    ProcessResult credential(const std::string& action, const std::string& file,
                             const std::string& input) {
        return run_process(
            {"git", "-c", "credential.helper=", "-c",
             "credential.helper=store --file=" + harness_.file(file), "credential", action},
            input, 20s);
    }
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& e : std::filesystem::directory_iterator(harness_.mountpoint())) {
            out.push_back(e.path().filename().string());
        }
        std::sort(out.begin(), out.end());
        return out;
    }
};

constexpr char kOtherHost[] =
    "protocol=https\nhost=gitlab.example\nusername=alice\npassword=pw\n\n";

TEST_F(GitWritesTest, ApproveKeepsTheDaemonsTokenFirstAndOtherHostsAfter) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    const ProcessResult store = credential("approve", "rig-a", kOtherHost);
    EXPECT_EQ(store.exit_code, 0);
    EXPECT_EQ(store.error, "");  // git ignores a failing helper's exit status
    const ProcessResult approve = credential(
        "approve", "rig-a",
        "protocol=https\nhost=github.com\nusername=x-access-token\npassword=ghs_stale\n\n");
    EXPECT_EQ(approve.exit_code, 0);
    EXPECT_EQ(approve.error, "");
    const ReadResult r = read_whole_file(harness_.file("rig-a"));
    ASSERT_EQ(r.error, 0);
    const auto current = fake_.current_token("rig-a");
    ASSERT_TRUE(current.has_value());
    EXPECT_EQ(r.data, "https://x-access-token:" + *current +
                          "@github.com\nhttps://alice:pw@gitlab.example\n");
    EXPECT_EQ(names(),
              (std::vector<std::string>{".metrics", ".status", "rig-a"}));  // no lock file left
    EXPECT_EQ(fake_.calls("rig-a"), 1);
}

TEST_F(GitWritesTest, RejectErasesTheLineAndTheDaemonRefreshesAtOnce) {
    RefreshParams no_lag_window;  // the token is seconds old: with one, the erase is lag
    no_lag_window.publish_delay_s = 0;
    ASSERT_NO_FATAL_FAILURE(start_daemon(no_lag_window, {{"rig-a", ""}}));
    ASSERT_EQ(credential("approve", "rig-a", kOtherHost).exit_code, 0);
    const auto before = wait_for_token("rig-a");
    ASSERT_TRUE(before.has_value());
    const ProcessResult reject = credential(
        "reject", "rig-a",
        "protocol=https\nhost=github.com\nusername=x-access-token\npassword=" + before->token +
            "\n\n");
    EXPECT_EQ(reject.exit_code, 0);
    EXPECT_EQ(reject.error, "");
    ASSERT_TRUE(wait_until([&] { return fake_.calls("rig-a") == 2; }, 20s));
    const ProcessResult get = credential("fill", "rig-a", "protocol=https\nhost=github.com\n\n");
    ASSERT_EQ(get.exit_code, 0) << get.error;
    const auto after = fake_.current_token("rig-a");
    ASSERT_TRUE(after.has_value());
    EXPECT_NE(*after, before->token);
    EXPECT_NE(get.output.find("password=" + *after + "\n"), std::string::npos) << get.output;
    const ReadResult r = read_whole_file(harness_.file("rig-a"));
    EXPECT_NE(r.data.find("https://alice:pw@gitlab.example\n"), std::string::npos) << r.data;
}

TEST_F(GitWritesTest, OtherFilesWorkLikeADirectory) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    ASSERT_EQ(credential("approve", "notes", kOtherHost).exit_code, 0);
    const ReadResult r = read_whole_file(harness_.file("notes"));
    EXPECT_EQ(r.data, "https://alice:pw@gitlab.example\n");
    const ProcessResult fill =
        credential("fill", "notes", "protocol=https\nhost=gitlab.example\n\n");
    EXPECT_NE(fill.output.find("password=pw\n"), std::string::npos) << fill.output;
    EXPECT_EQ(::unlink(harness_.file("notes").c_str()), 0);
    EXPECT_EQ(names(), (std::vector<std::string>{".metrics", ".status", "rig-a"}));
}

TEST_F(GitWritesTest, AStaleLockFromAKilledGitDoesNotBlockStoresForever) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    const int fd = ::open(harness_.file("rig-a.lock").c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    ASSERT_EQ(::write(fd, "half", 4), 4);
    ::close(fd);  // as if git died between writing and renaming
    // git waits 1 s for the lock and fails while it is fresh; once the lock is
    // older than the daemon's stale threshold, a store goes through.
    ProcessResult store;
    const bool stored = wait_until(
        [&] {
            store = credential("approve", "rig-a", kOtherHost);
            // git ignores a failing helper's exit status: its complaint is on stderr.
            return store.exit_code == 0 && store.error.empty();
        },
        30s, 200ms);
    ASSERT_TRUE(stored) << store.error;
    EXPECT_EQ(names(), (std::vector<std::string>{".metrics", ".status", "rig-a"}));
}

TEST_F(GitWritesTest, RigFilesRefuseRemovalRenameAndDirectWrites) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    EXPECT_NE(::unlink(harness_.file("rig-a").c_str()), 0);
    EXPECT_EQ(errno, EPERM);
    EXPECT_NE(::rename(harness_.file("rig-a").c_str(), harness_.file("x").c_str()), 0);
    EXPECT_EQ(errno, EPERM);
    EXPECT_LT(::open(harness_.file("rig-a").c_str(), O_WRONLY | O_TRUNC), 0);
    EXPECT_EQ(errno, EACCES);
    EXPECT_LT(::open(harness_.file(std::string(256, 'n')).c_str(), O_RDWR | O_CREAT, 0600), 0);
    EXPECT_EQ(errno, ENAMETOOLONG);
    const ReadResult r = read_whole_file(harness_.file("rig-a"));
    ASSERT_EQ(r.error, 0);
    EXPECT_TRUE(token_from_line(r.data).has_value());
}

// git renames its lock over a rig file that other processes have open: the
// rename must succeed, and the open handles keep reading and stat-ing (no
// EPERM, no ESTALE: the rig file keeps its inode across the rename).
TEST_F(GitWritesTest, RewritesSucceedWhileReadersHoldTheFileOpen) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    const int held = ::open(harness_.file("rig-a").c_str(), O_RDONLY);
    ASSERT_GE(held, 0) << std::strerror(errno);
    struct stat before {};
    ASSERT_EQ(::fstat(held, &before), 0) << std::strerror(errno);
    const ProcessResult store = credential("approve", "rig-a", kOtherHost);
    EXPECT_EQ(store.error, "");
    char buf[256];
    const ssize_t n = ::pread(held, buf, sizeof buf, 0);
    EXPECT_GT(n, 0) << std::strerror(errno);
    struct stat after {};
    // The kernel asks by inode, not by handle, so the size is the file's
    // current one; what matters is that the inode is still there.
    EXPECT_EQ(::fstat(held, &after), 0) << std::strerror(errno);
    EXPECT_EQ(after.st_ino, before.st_ino);
    ::close(held);
    struct stat by_name {};
    ASSERT_EQ(::stat(harness_.file("rig-a").c_str(), &by_name), 0);
    EXPECT_EQ(by_name.st_ino, before.st_ino);
}

// The inode the kernel already holds for a rig file (here through an O_PATH
// descriptor; in a busy container, an open whose lookup ran just before
// another git's rename) still opens after git renames its lock over the file.
// With libfuse's high-level API that node was gone: ESTALE.
TEST_F(GitWritesTest, AnInodeLookedUpBeforeARewriteStillOpensAfterIt) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    const int path_fd = ::open(harness_.file("rig-a").c_str(), O_PATH);
    ASSERT_GE(path_fd, 0) << std::strerror(errno);
    for (int i = 0; i < 3; ++i) {
        const ProcessResult store = credential("approve", "rig-a", kOtherHost);
        ASSERT_EQ(store.error, "");
        const ReadResult r = read_whole_file("/proc/self/fd/" + std::to_string(path_fd));
        ASSERT_EQ(r.error, 0) << std::strerror(r.error);
        EXPECT_TRUE(token_from_line(r.data.substr(0, r.data.find('\n') + 1)));
    }
    ::close(path_fd);
}

// A storm: readers opening the file while gits rename over it as fast as they
// can. Every open must succeed with a whole token line: a partial or mixed
// line, ESTALE, EPERM or EIO fails the test.
TEST_F(GitWritesTest, OpensNeverFailWhileGitsRenameOverTheFile) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    std::atomic<int> opens{0};
    std::atomic<int> read_errors{0};
    std::atomic<int> first_errno{0};
    std::atomic<int> git_complaints{0};
    std::atomic<int> writers_left{3};
    std::vector<std::thread> threads;
    for (int r = 0; r < 4; ++r) {
        threads.emplace_back([&] {
            // Bounded: the writers end after 3 x 20 approvals, or 20000 opens.
            while (writers_left.load() > 0 && opens.load() < 20000) {
                ++opens;
                const ReadResult rr = read_whole_file(harness_.file("rig-a"));
                if (rr.error != 0 || !token_from_line(rr.data.substr(0, rr.data.find('\n') + 1))) {
                    int expected = 0;
                    first_errno.compare_exchange_strong(expected, rr.error);
                    ++read_errors;
                }
            }
        });
    }
    for (int w = 0; w < 3; ++w) {
        threads.emplace_back([&] {
            for (int i = 0; i < 20; ++i) {
                if (!credential("approve", "rig-a", kOtherHost).error.empty()) ++git_complaints;
            }
            --writers_left;
        });
    }
    for (auto& t : threads) t.join();
    RecordProperty("opens", opens.load());
    std::printf("storm: %d opens during 60 renames, %d failed (first errno %d)\n", opens.load(),
                read_errors.load(), first_errno.load());
    EXPECT_EQ(read_errors.load(), 0) << "first errno: " << std::strerror(first_errno.load());
    EXPECT_EQ(git_complaints.load(), 0);
    EXPECT_EQ(names(), (std::vector<std::string>{".metrics", ".status", "rig-a"}));
}

}  // namespace
}  // namespace credfs::itest
