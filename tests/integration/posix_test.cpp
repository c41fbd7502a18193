// POSIX behaviour of the files git (or a tool) makes beside the rig files,
// and of the directory itself: what a local filesystem would do. Each case
// here was found by breaking the mount.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

class PosixTest : public MountTest {
  protected:
    /// fstat that always asks the daemon (attr timeouts are 0, but within one
    /// clock tick the kernel would answer from its cache).
    static int fresh_fstat(int fd, struct statx& out) {
        return ::statx(fd, "", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &out);
    }
    int create(const std::string& name, const std::string& content, int extra_flags = 0) {
        const int fd = ::open(harness_.file(name).c_str(), O_CREAT | O_RDWR | extra_flags, 0600);
        if (fd >= 0 && !content.empty()) {
            EXPECT_EQ(::write(fd, content.data(), content.size()),
                      static_cast<ssize_t>(content.size()));
        }
        return fd;
    }
    std::set<std::string> readdir_all(DIR* dir) {
        std::set<std::string> names;
        while (const dirent* e = ::readdir(dir)) names.insert(e->d_name);
        return names;
    }
};

TEST_F(PosixTest, AnUnlinkedOpenFileStillStatsChmodsTouchesAndReopens) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    const int fd = create("other", "abc");
    ASSERT_GE(fd, 0) << std::strerror(errno);
    ASSERT_EQ(::unlink(harness_.file("other").c_str()), 0);
    struct statx st {};
    ASSERT_EQ(fresh_fstat(fd, st), 0) << std::strerror(errno);
    EXPECT_EQ(st.stx_size, 3u);
    EXPECT_EQ(::fchmod(fd, 0600), 0) << std::strerror(errno);
    EXPECT_EQ(::futimens(fd, nullptr), 0) << std::strerror(errno);
    const ReadResult r = read_whole_file("/proc/self/fd/" + std::to_string(fd));
    EXPECT_EQ(r.error, 0) << std::strerror(r.error);
    EXPECT_EQ(r.data, "abc");
    ::close(fd);
}

TEST_F(PosixTest, AFileRenamedOverStillStatsThroughItsOpenHandle) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    const int old_fd = create("target", "old content");
    ASSERT_GE(old_fd, 0);
    const int new_fd = create("target.new", "new");
    ASSERT_GE(new_fd, 0);
    ASSERT_EQ(::rename(harness_.file("target.new").c_str(), harness_.file("target").c_str()), 0);
    struct statx st {};
    ASSERT_EQ(fresh_fstat(old_fd, st), 0) << std::strerror(errno);
    EXPECT_EQ(st.stx_size, 11u);
    ::close(old_fd);
    ::close(new_fd);
    EXPECT_EQ(read_whole_file(harness_.file("target")).data, "new");
}

TEST_F(PosixTest, RewinddirShowsFilesCreatedAndRemovedSinceOpendir) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    const int gone = create("gone", "");
    ASSERT_GE(gone, 0);
    ::close(gone);
    DIR* dir = ::opendir(harness_.mountpoint().c_str());
    ASSERT_NE(dir, nullptr);
    EXPECT_EQ(readdir_all(dir).count("gone"), 1u);
    const int fd = create("new", "");
    ASSERT_GE(fd, 0);
    ::close(fd);
    ASSERT_EQ(::unlink(harness_.file("gone").c_str()), 0);
    ::rewinddir(dir);
    const std::set<std::string> after = readdir_all(dir);
    ::closedir(dir);
    EXPECT_EQ(after.count("new"), 1u);
    EXPECT_EQ(after.count("gone"), 0u);
}

TEST_F(PosixTest, NamesOverNameMaxAreENAMETOOLONGForStatToo) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    struct stat st {};
    EXPECT_NE(::stat(harness_.file(std::string(256, 'n')).c_str(), &st), 0);
    EXPECT_EQ(errno, ENAMETOOLONG);
    EXPECT_NE(::stat(harness_.file(std::string(255, 'n')).c_str(), &st), 0);
    EXPECT_EQ(errno, ENOENT);
}

// fcntl(F_SETFL) may clear O_APPEND after open; writes then go where asked.
TEST_F(PosixTest, ClearingOAppendWithFcntlTakesEffect) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    const int fd = create("log", "abc", O_APPEND);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "X", 1), 1);
    ASSERT_EQ(::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_APPEND), 0);
    ASSERT_EQ(::pwrite(fd, "Z", 1, 0), 1);
    ::close(fd);
    EXPECT_EQ(read_whole_file(harness_.file("log")).data, "ZbcX");
}

// A file that was under the mountpoint before mounting is shown read-only:
// replacing it through the mount would be lost at unmount, so it is refused.
TEST_F(PosixTest, BackingFilesCannotBeReplacedRenamedOrTouched) {
    std::ofstream(harness_.mountpoint() + "/team-creds") << "https://bob:pw@other.example\n";
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    const int fd = create("replacement", "https://eve:pw@other.example\n");
    ASSERT_GE(fd, 0);
    ::close(fd);
    EXPECT_NE(::rename(harness_.file("replacement").c_str(), harness_.file("team-creds").c_str()),
              0);
    EXPECT_EQ(errno, EROFS);
    EXPECT_NE(::rename(harness_.file("team-creds").c_str(), harness_.file("rig-a").c_str()), 0);
    EXPECT_EQ(errno, EROFS);
    EXPECT_NE(::utimensat(AT_FDCWD, harness_.file("team-creds").c_str(), nullptr, 0), 0);
    EXPECT_EQ(errno, EROFS);
    EXPECT_EQ(read_whole_file(harness_.file("team-creds")).data, "https://bob:pw@other.example\n");
    // touch on a rig file or a daemon file changes nothing and succeeds.
    EXPECT_EQ(::utimensat(AT_FDCWD, harness_.file("rig-a").c_str(), nullptr, 0), 0);
    EXPECT_EQ(::utimensat(AT_FDCWD, harness_.file(".status").c_str(), nullptr, 0), 0);
}

// git made a file with a name that a reload then gives to a rig: the rig
// owns the name, and the listing shows it once.
TEST_F(PosixTest, ARigAddedOverAFileGitMadeIsListedOnce) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    const int fd = create("rig-b", "https://x-access-token:old@github.com\n");
    ASSERT_GE(fd, 0);
    ::close(fd);
    harness_.write_config(fake_.base_url(), RefreshParams{}, {{"rig-a", ""}, {"rig-b", ""}});
    ASSERT_EQ(::kill(harness_.pid(), SIGHUP), 0);
    ASSERT_TRUE(wait_until(
        [&] { return token_from_line(read_whole_file(harness_.file("rig-b")).data).has_value(); },
        20s));
    DIR* dir = ::opendir(harness_.mountpoint().c_str());
    ASSERT_NE(dir, nullptr);
    int seen = 0;
    while (const dirent* e = ::readdir(dir)) seen += std::string(e->d_name) == "rig-b" ? 1 : 0;
    ::closedir(dir);
    EXPECT_EQ(seen, 1);
}

// A listing took the rig set once and asked the live registry about the
// files git made: a reload in between listed a name given to a rig or taken
// from one twice or not at all. Reloads that add and remove rig-b, over a
// file of that name, while readdir runs: every listing holds rig-b once.
TEST_F(PosixTest, AReloadDuringAListingNeverHidesOrDoublesARigsName) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    const int fd = create("rig-b", "https://x-access-token:old@github.com\n");
    ASSERT_GE(fd, 0);
    ::close(fd);
    std::atomic<bool> done{false};
    std::atomic<int> reloads{0};
    std::thread reloader([&] {
        for (int i = 0; i < 60 && !::testing::Test::HasFailure(); ++i) {
            const bool with_b = i % 2 == 0;
            std::vector<RigSpec> rigs{{"rig-a", ""}};
            if (with_b) rigs.push_back({"rig-b", ""});
            harness_.write_config(fake_.base_url(), RefreshParams{}, rigs);
            if (::kill(harness_.pid(), SIGHUP) != 0) break;
            // The next change only once this one is served.
            const bool served = wait_until(
                [&] {
                    const std::string status = read_whole_file(harness_.file(".status")).data;
                    return (status.find("\"rig-b\"") != std::string::npos) == with_b;
                },
                20s);
            if (!served) break;
            ++reloads;
        }
        done = true;
    });
    int listings = 0;
    std::string wrong;
    while (!done && wrong.empty()) {
        DIR* dir = ::opendir(harness_.mountpoint().c_str());
        if (dir == nullptr) break;
        int seen = 0;
        while (const dirent* e = ::readdir(dir)) seen += std::string(e->d_name) == "rig-b" ? 1 : 0;
        ::closedir(dir);
        ++listings;
        if (seen != 1)
            wrong = "listing " + std::to_string(listings) + " held rig-b " + std::to_string(seen) +
                    " times";
    }
    reloader.join();
    EXPECT_EQ(wrong, "");
    EXPECT_EQ(reloads, 60) << "a reload was not served within 20 s";
}

// Thousands of files beside the rigs: the limit answers ENOSPC, the listing
// holds each name once across many readdir calls, and git can still take a
// rig's lock (the reserve) and rewrite the rig.
TEST_F(PosixTest, AFullDirectoryListsEachFileOnceAndStillTakesARigsLock) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    int created = 0;
    int err = 0;
    for (int i = 0; i < 12000 && err == 0; ++i) {
        const int fd = create("junk-" + std::to_string(i), "");
        if (fd < 0) {
            err = errno;
        } else {
            ::close(fd);
            ++created;
        }
    }
    EXPECT_EQ(err, ENOSPC);
    EXPECT_EQ(created, 9000);  // 10,000 files, the last 1,000 kept for lock files
    DIR* dir = ::opendir(harness_.mountpoint().c_str());
    ASSERT_NE(dir, nullptr);
    std::set<std::string> names;
    int entries = 0;
    while (const dirent* e = ::readdir(dir)) {
        names.insert(e->d_name);
        ++entries;
    }
    ::closedir(dir);
    EXPECT_EQ(entries, static_cast<int>(names.size())) << "a name was listed twice";
    EXPECT_EQ(names.size(), 9000u + 5u);  // . .. rig-a .status .metrics
    const ProcessResult approve = run_process(
        {"git", "-c", "credential.helper=", "-c",
         "credential.helper=store --file=" + harness_.file("rig-a"), "credential", "approve"},
        "protocol=https\nhost=github.com\nusername=x-access-token\npassword=ghs_stale\n\n", 20s);
    EXPECT_EQ(approve.error, "");
    const ReadResult r = read_whole_file(harness_.file("rig-a"));
    EXPECT_EQ(r.error, 0);
    EXPECT_TRUE(token_from_line(r.data));
}

}  // namespace
}  // namespace credfs::itest
