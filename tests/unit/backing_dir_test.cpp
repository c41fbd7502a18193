#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "credfs/engine/backing_dir.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

TEST(BackingDir, WritesAtomicallyWithMode0600AndLeavesNoTempFiles) {
    test::TempDir dir;
    BackingDir backing(dir.path());
    ASSERT_EQ(backing.write_atomic("rig", "line one\n"), 0);
    ASSERT_EQ(backing.write_atomic("rig", "line two\n"), 0);
    EXPECT_EQ(backing.read("rig").value_or(""), "line two\n");
    struct stat st {};
    ASSERT_EQ(backing.stat("rig", st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::vector<std::string> all;
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
        all.push_back(e.path().filename().string());
    }
    EXPECT_EQ(all, (std::vector<std::string>{"rig"}));
}

TEST(BackingDir, WritesInPlaceKeepingTheInodeAndTruncatingAShorterRecord) {
    test::TempDir dir;
    BackingDir backing(dir.path());
    ASSERT_EQ(backing.write_in_place("state", "a longer first record\n"), 0);
    struct stat first {};
    ASSERT_EQ(backing.stat("state", first), 0);
    EXPECT_EQ(first.st_mode & 0777, 0600u);
    ASSERT_EQ(backing.write_in_place("state", "short\n"), 0);
    EXPECT_EQ(backing.read("state").value_or(""), "short\n");
    struct stat second {};
    ASSERT_EQ(backing.stat("state", second), 0);
    EXPECT_EQ(second.st_ino, first.st_ino);  // no new inode, no rename
    std::filesystem::create_symlink(dir.path() + "/state", dir.path() + "/link");
    EXPECT_EQ(backing.write_in_place("link", "x"), ELOOP);
    EXPECT_EQ(backing.read("state").value_or(""), "short\n");
}

TEST(BackingDir, ListsRegularFilesAndReadsWithinALimit) {
    test::TempDir dir;
    std::ofstream(dir.path() + "/a") << "aaaa";
    std::filesystem::create_directory(dir.path() + "/sub");
    std::filesystem::create_symlink(dir.path() + "/a", dir.path() + "/link");
    BackingDir backing(dir.path());
    EXPECT_EQ(backing.list(), (std::vector<std::string>{"a"}));
    EXPECT_EQ(backing.read("a", 3), std::nullopt);  // over the limit
    EXPECT_EQ(backing.read("link"), std::nullopt);  // never follows links
    EXPECT_EQ(backing.read("missing"), std::nullopt);
    EXPECT_LT(backing.open_read("sub"), 0);
}

TEST(BackingDir, ReportsWhyAWriteFailed) {
    test::TempDir dir;
    BackingDir backing(dir.path());
    std::filesystem::create_directory(dir.path() + "/rig");  // a directory in the way
    EXPECT_NE(backing.write_atomic("rig", "x"), 0);
    EXPECT_EQ(backing.list(), (std::vector<std::string>{}));  // temp file cleaned up
    EXPECT_THROW(BackingDir(dir.path() + "/missing"), std::system_error);
}

TEST(BackingDir, ASecondOpenOfTheSameDirectoryIsRefusedWhileTheFirstLives) {
    test::TempDir dir;
    {
        BackingDir first(dir.path());
        try {
            BackingDir second(dir.path());
            ADD_FAILURE() << "two BackingDirs on one directory";
        } catch (const std::system_error& e) {
            EXPECT_NE(std::string(e.what()).find("another gastown-credfs already serves"),
                      std::string::npos)
                << e.what();
        }
    }
    EXPECT_NO_THROW(BackingDir again(dir.path()));  // released with the first
}

TEST(BackingDir, AWriteUnderGitsLockWaitsForGitsRenameAndTakesTheLockItself) {
    test::TempDir dir;
    BackingDir backing(dir.path());
    ASSERT_EQ(backing.write_under_git_lock("rig", [](auto&) { return std::string("first\n"); }), 0);
    EXPECT_EQ(backing.read("rig").value_or(""), "first\n");
    struct stat st {};
    ASSERT_EQ(backing.stat("rig", st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_NE(backing.stat("rig.lock", st), 0);  // the lock is gone with the rename

    // A git holds rig.lock: the write waits, then a lock that stays is EEXIST.
    std::ofstream(dir.path() + "/rig.lock") << "git's\n";
    EXPECT_EQ(backing.write_under_git_lock(
                  "rig", [](auto&) { return std::string("second\n"); }, 0.05),
              EEXIST);
    EXPECT_EQ(backing.read("rig").value_or(""), "first\n");
    EXPECT_EQ(backing.read("rig.lock").value_or(""), "git's\n");  // never taken from git

    // git renames its lock over the file while the daemon waits: the daemon
    // then takes the lock itself and its write lands after git's.
    std::thread git([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        std::filesystem::rename(dir.path() + "/rig.lock", dir.path() + "/rig");
    });
    // What git renamed into place is what the daemon merges with.
    std::optional<std::string> seen;
    EXPECT_EQ(backing.write_under_git_lock(
                  "rig",
                  [&](const std::optional<std::string>& now) {
                      seen = now;
                      return *now + "third\n";
                  },
                  30),
              0);
    git.join();
    EXPECT_EQ(seen, std::optional<std::string>("git's\n"));
    EXPECT_EQ(backing.read("rig").value_or(""), "git's\nthird\n");
}

}  // namespace
}  // namespace credfs
