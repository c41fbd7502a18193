#include <gtest/gtest.h>

#include <cerrno>

#include "credfs/fs/scratch.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

using test::FakeClock;

class ScratchTest : public ::testing::Test {
  protected:
    std::string content(const ScratchHandle& h) {
        std::string out;
        scratch_.read(h, 1 << 20, 0, out);
        return out;
    }
    FakeClock clock_;
    Scratch scratch_{clock_, ScratchLimits{.max_files = 3,
                                           .lock_reserve = 1,
                                           .max_file_size = 16,
                                           .max_total_bytes = 40,
                                           .lock_reserve_bytes = 0,
                                           .stale_lock_s = 5}};
};

TEST_F(ScratchTest, ExclusiveCreateWriteReadRenameUnlink) {
    ScratchHandle h;
    ASSERT_EQ(scratch_.create("f.lock", true, false, h), 0);
    ScratchHandle again;
    EXPECT_EQ(scratch_.create("f.lock", true, false, again), -EEXIST);
    EXPECT_EQ(scratch_.write(h, "hello", 0, false), 5);
    EXPECT_EQ(scratch_.write(h, "!", 0, true), 1);
    EXPECT_EQ(content(h), "hello!");
    scratch_.release(h);
    ASSERT_EQ(scratch_.rename("f.lock", "f"), 0);
    EXPECT_FALSE(scratch_.stat("f.lock"));
    ASSERT_TRUE(scratch_.stat("f"));
    EXPECT_EQ(scratch_.stat("f")->size, 6);
    EXPECT_EQ(scratch_.list(), (std::vector<std::string>{"f"}));
    EXPECT_EQ(scratch_.unlink("f"), 0);
    EXPECT_EQ(scratch_.unlink("f"), -ENOENT);
    EXPECT_EQ(scratch_.rename("f", "g"), -ENOENT);
}

TEST_F(ScratchTest, LimitsGiveErrnoNotGrowth) {
    ScratchHandle h;
    ASSERT_EQ(scratch_.create("a", true, false, h), 0);
    EXPECT_EQ(scratch_.write(h, std::string(17, 'x'), 0, false), -EFBIG);
    EXPECT_EQ(scratch_.write(h, "x", 1LL << 40, false), -EFBIG);
    EXPECT_EQ(scratch_.truncate(h, 17), -EFBIG);
    EXPECT_EQ(scratch_.truncate(h, -1), -EINVAL);
    ASSERT_EQ(scratch_.write(h, std::string(16, 'a'), 0, false), 16);
    ScratchHandle b, c, lock, lock2;
    ASSERT_EQ(scratch_.create("b", true, false, b), 0);
    ASSERT_EQ(scratch_.write(b, std::string(16, 'b'), 0, false), 16);
    // The last slot is kept for lock files: git's stores must still work.
    EXPECT_EQ(scratch_.create("c", true, false, c), -ENOSPC);
    ASSERT_EQ(scratch_.create("rig.lock", true, false, lock), 0);
    EXPECT_EQ(scratch_.create("rig2.lock", true, false, lock2), -ENOSPC);
    // 32 of 40 bytes used: the total budget refuses what the file limit allows.
    EXPECT_EQ(scratch_.write(lock, std::string(16, 'l'), 0, false), -ENOSPC);
    EXPECT_EQ(scratch_.write(lock, std::string(8, 'l'), 0, false), 8);
    ASSERT_EQ(scratch_.unlink("a"), 0);
    // Still open: its bytes are still held, as a disk's blocks would be.
    EXPECT_EQ(scratch_.write(lock, std::string(16, 'l'), 0, false), -ENOSPC);
    scratch_.release(h);
    EXPECT_EQ(scratch_.write(lock, std::string(16, 'l'), 0, false), 16);
}

// Unlinking files while keeping them open must not be a way around the
// total budget (the daemon's memory).
TEST_F(ScratchTest, OpenUnlinkedFilesCountUntilTheirLastClose) {
    ScratchHandle a, b;
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(scratch_.create("a", true, false, a), 0);
        ASSERT_EQ(scratch_.write(a, std::string(16, 'a'), 0, false), 16);
        ASSERT_EQ(scratch_.unlink("a"), 0);
        if (i == 0) b = a;
    }
    ScratchHandle c;
    ASSERT_EQ(scratch_.create("c", true, false, c), 0);
    EXPECT_EQ(scratch_.write(c, std::string(16, 'c'), 0, false), -ENOSPC);  // 32 of 40 held
    scratch_.release(b);
    EXPECT_EQ(scratch_.write(c, std::string(16, 'c'), 0, false), 16);
    scratch_.release(a);
    scratch_.release(c);
}

// fstat, fchmod, futimens and reopening /proc/self/fd/N go by inode: an
// unlinked file stays reachable while it is open, and only then.
TEST_F(ScratchTest, AnOpenUnlinkedFileIsReachableByInodeUntilClosed) {
    ScratchHandle h;
    ASSERT_EQ(scratch_.create("f", true, false, h), 0);
    ASSERT_EQ(scratch_.write(h, "abc", 0, false), 3);
    const uint64_t ino = scratch_.stat("f")->ino;
    ASSERT_EQ(scratch_.unlink("f"), 0);
    EXPECT_FALSE(scratch_.name_of(ino));
    ASSERT_TRUE(scratch_.stat_ino(ino));
    EXPECT_EQ(scratch_.stat_ino(ino)->size, 3);
    EXPECT_EQ(scratch_.set_mtime_ino(ino, WallTime{}), 0);
    EXPECT_EQ(scratch_.stat_ino(ino)->mtime, WallTime{});
    ScratchHandle reopened;
    ASSERT_EQ(scratch_.open_ino(ino, false, reopened), 0);
    EXPECT_EQ(content(reopened), "abc");
    scratch_.release(h);
    EXPECT_TRUE(scratch_.stat_ino(ino));  // the reopened handle still holds it
    scratch_.release(reopened);
    EXPECT_FALSE(scratch_.stat_ino(ino));
    EXPECT_EQ(scratch_.open_ino(ino, false, reopened), -ESTALE);
}

// The lock reserves (files and bytes) stay for `*.lock` files even when a
// lock is renamed to a plain name, so other files cannot fill them.
TEST_F(ScratchTest, RenamingLocksToPlainNamesCannotFillTheReserve) {
    ScratchHandle a, b, lock;
    ASSERT_EQ(scratch_.create("a", true, false, a), 0);
    ASSERT_EQ(scratch_.create("b", true, false, b), 0);
    ASSERT_EQ(scratch_.create("x.lock", true, false, lock), 0);  // the reserved slot
    EXPECT_EQ(scratch_.rename("x.lock", "x"), -ENOSPC);
    EXPECT_EQ(scratch_.rename("x.lock", "a"), 0);  // replacing a plain file adds none
    EXPECT_EQ(scratch_.list(), (std::vector<std::string>{"a", "b"}));
}

TEST(ScratchReserve, PlainFilesStopShortOfTheLockByteReserve) {
    test::FakeClock clock;
    Scratch scratch(clock, ScratchLimits{.max_files = 10,
                                         .lock_reserve = 1,
                                         .max_file_size = 16,
                                         .max_total_bytes = 40,
                                         .lock_reserve_bytes = 16,
                                         .stale_lock_s = 5});
    ScratchHandle plain, lock;
    ASSERT_EQ(scratch.create("notes", true, false, plain), 0);
    ASSERT_EQ(scratch.write(plain, std::string(16, 'p'), 0, false), 16);
    ScratchHandle more;
    ASSERT_EQ(scratch.create("more", true, false, more), 0);
    EXPECT_EQ(scratch.write(more, std::string(16, 'p'), 0, false), -ENOSPC);  // 32 > 40 - 16
    EXPECT_EQ(scratch.write(more, std::string(8, 'p'), 0, false), 8);
    ASSERT_EQ(scratch.create("rig.lock", true, false, lock), 0);
    EXPECT_EQ(scratch.write(lock, std::string(16, 'l'), 0, false), 16);  // the reserve
    EXPECT_EQ(scratch.rename("rig.lock", "other"), -ENOSPC);
}

TEST_F(ScratchTest, StalenessCountsFromTheLastCloseNotTheLastWrite) {
    ScratchHandle h;
    ASSERT_EQ(scratch_.create("rig.lock", true, false, h), 0);
    clock_.advance(10);  // git holds its lock while a slow read of the rig waits
    scratch_.release(h);
    clock_.advance(1);
    EXPECT_FALSE(scratch_.drop_if_stale_lock("rig.lock"));  // closed only 1 s ago
    clock_.advance(5);
    EXPECT_TRUE(scratch_.drop_if_stale_lock("rig.lock"));
}

TEST_F(ScratchTest, StaleLockLeftByAKilledGitIsReplaced) {
    ScratchHandle h;
    ASSERT_EQ(scratch_.create("rig.lock", true, false, h), 0);
    scratch_.write(h, "partial", 0, false);
    clock_.advance(60);
    ScratchHandle again;
    EXPECT_EQ(scratch_.create("rig.lock", true, false, again), -EEXIST);  // still open
    scratch_.release(h);  // the killed git's descriptor is closed by the kernel
    clock_.advance(6);
    ASSERT_EQ(scratch_.create("rig.lock", true, false, again), 0);
    EXPECT_EQ(content(again), "");
}

TEST_F(ScratchTest, OnlyClosedAndOldLocksAreStale) {
    ScratchHandle h;
    ASSERT_EQ(scratch_.create("rig.lock", true, false, h), 0);
    scratch_.release(h);
    ScratchHandle again;
    EXPECT_EQ(scratch_.create("rig.lock", true, false, again), -EEXIST);  // fresh
    clock_.advance(6);
    ASSERT_EQ(scratch_.create("rig.lock", true, false, again), 0);  // closed and 6 s old
    EXPECT_EQ(content(again), "");
    scratch_.release(again);
    ScratchHandle other;
    ASSERT_EQ(scratch_.create("notes", true, false, other), 0);
    scratch_.release(other);
    clock_.advance(60);
    EXPECT_EQ(scratch_.create("notes", true, false, other), -EEXIST);  // not a lock file
}

TEST_F(ScratchTest, HandlesFollowTheirFileAcrossRename) {
    ScratchHandle h;
    ASSERT_EQ(scratch_.create("x", true, false, h), 0);
    ASSERT_EQ(scratch_.rename("x", "y"), 0);
    scratch_.write(h, "data", 0, false);
    ScratchHandle y;
    ASSERT_EQ(scratch_.open("y", false, y), 0);
    EXPECT_EQ(content(y), "data");
    ASSERT_EQ(scratch_.open("y", true, y), 0);
    EXPECT_EQ(content(y), "");
    auto taken = scratch_.take("y");
    ASSERT_TRUE(taken);
    EXPECT_FALSE(scratch_.stat("y"));
}

}  // namespace
}  // namespace credfs
