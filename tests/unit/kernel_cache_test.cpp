// KernelCache (fs/kernel_cache.hpp): which rig-file opens may read through
// the kernel's page cache, when the inode is invalidated, and what its
// attributes describe meanwhile. The kernel is played by a recording
// Invalidate function; the mount-level check is
// tests/integration/kernel_cache_test.cpp.
#include "credfs/fs/kernel_cache.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "filesystem_fixture.hpp"
#include "test_support.hpp"

namespace credfs::test {
namespace {

CredentialPtr content(const std::string& bytes) {
    return std::make_shared<const Credential>("ghs_x", WallTime{}, WallTime{}, bytes);
}

class KernelCacheTest : public ::testing::Test {
  protected:
    KernelCacheTest() {
        cache_.set_invalidate([this](Ino ino) {
            invalidated_.push_back(ino);
            return result_.load();
        });
    }
    KernelCache cache_;
    std::vector<Ino> invalidated_;
    std::atomic<int> result_{0};
};

TEST(KernelCacheOff, WithoutAnInvalidationEveryOpenIsDirect) {
    KernelCache cache;
    EXPECT_FALSE(cache.admit(100, content("a\n")));
    EXPECT_FALSE(cache.admit(100, content("a\n")));
    EXPECT_EQ(cache.stats().direct_opens, 2u);
}

TEST_F(KernelCacheTest, TheFirstOpenInvalidatesThenTheSameBytesReuseTheCache) {
    EXPECT_TRUE(cache_.admit(100, content("line-1\n")));
    EXPECT_EQ(invalidated_, std::vector<Ino>{100});
    cache_.release(100);
    // Equal bytes in another Credential object: the pages hold them already.
    EXPECT_TRUE(cache_.admit(100, content("line-1\n")));
    EXPECT_TRUE(cache_.admit(100, content("line-1\n")));
    EXPECT_EQ(invalidated_.size(), 1u);
    EXPECT_EQ(cache_.stats().cached_opens, 3u);
}

TEST_F(KernelCacheTest, NewBytesWhileACachedHandleIsOpenGoDirectAndAttributesKeepTheCachedSize) {
    const CredentialPtr old_bytes = content("short\n");
    const CredentialPtr new_bytes = content("a longer line\n");
    ASSERT_TRUE(cache_.admit(100, old_bytes));
    EXPECT_FALSE(cache_.admit(100, new_bytes));
    EXPECT_EQ(invalidated_.size(), 1u);  // the open handle could refill old pages
    // i_size must match the pages the open handle fills.
    EXPECT_EQ(cache_.attr_content(100, new_bytes), old_bytes);

    cache_.release(100);
    EXPECT_EQ(cache_.attr_content(100, new_bytes), new_bytes);
    EXPECT_TRUE(cache_.admit(100, new_bytes));
    EXPECT_EQ(invalidated_, (std::vector<Ino>{100, 100}));
    EXPECT_EQ(cache_.attr_content(100, old_bytes), new_bytes);
}

TEST_F(KernelCacheTest, InodesAreIndependent) {
    ASSERT_TRUE(cache_.admit(100, content("a\n")));
    EXPECT_TRUE(cache_.admit(101, content("b\n")));
    EXPECT_EQ(invalidated_, (std::vector<Ino>{100, 101}));
}

TEST_F(KernelCacheTest, AFailedInvalidationGivesDirectIoAndIsTriedAgain) {
    result_ = -EIO;
    EXPECT_FALSE(cache_.admit(100, content("a\n")));
    result_ = 0;
    EXPECT_TRUE(cache_.admit(100, content("a\n")));
    EXPECT_EQ(invalidated_.size(), 2u);
}

TEST_F(KernelCacheTest, ENoEntMeansTheKernelHoldsNothing) {
    result_ = -ENOENT;  // the kernel never looked the inode up
    EXPECT_TRUE(cache_.admit(100, content("a\n")));
}

TEST_F(KernelCacheTest, ANewInvalidationFunctionForgetsWhatWasCached) {
    ASSERT_TRUE(cache_.admit(100, content("a\n")));
    cache_.release(100);
    cache_.set_invalidate([this](Ino ino) {
        invalidated_.push_back(ino + 1000);
        return 0;
    });
    EXPECT_TRUE(cache_.admit(100, content("a\n")));
    EXPECT_EQ(invalidated_, (std::vector<Ino>{100, 1100}));
    cache_.set_invalidate({});
    EXPECT_FALSE(cache_.admit(100, content("a\n")));
}

TEST(KernelCacheQueue, AChangeIsInvalidatedOnTheQueuesThread) {
    KernelCache cache;
    std::atomic<int> calls{0};
    std::atomic<Ino> last{0};
    cache.set_invalidate([&](Ino ino) {
        last = ino;
        ++calls;
        return 0;
    });
    cache.changed(7);  // not started: dropped
    cache.start();
    cache.changed(42);
    EXPECT_TRUE(eventually([&] { return calls.load() == 1; }));
    EXPECT_EQ(last.load(), 42u);
    cache.stop();
    cache.changed(43);  // stopped: dropped
    EXPECT_EQ(calls.load(), 1);
}

// Through Filesystem: an open handle admitted to the cache fixes the size the
// rig file's attributes report until it is released, even for a direct_io
// handle's fstat.
TEST_F(FilesystemTest, AttributesDescribeTheCachedBytesWhileACachedHandleIsOpen) {
    fs_.kernel_cache().set_invalidate([](Ino) { return 0; });
    std::unique_ptr<OpenFile> cached;
    ASSERT_EQ(open("rig-a", O_RDONLY, cached), 0);
    ASSERT_TRUE(std::get<RigFile>(*cached).page_cache);
    const off_t old_size = static_cast<off_t>(credential_of(*cached).content.size());

    std::unique_ptr<OpenFile> lock;
    ASSERT_EQ(create("rig-a.lock", O_RDWR | O_CREAT | O_EXCL, lock), 0);
    const std::string rewrite =
        "https://x-access-token:ghs_OLD@github.com\nhttps://a:b@gitlab.example\n";
    ASSERT_EQ(fs_.write(*lock, rewrite, 0, false), static_cast<ssize_t>(rewrite.size()));
    fs_.release(*lock);
    ASSERT_EQ(fs_.rename("rig-a.lock", "rig-a", false), 0);

    std::unique_ptr<OpenFile> direct;
    ASSERT_EQ(open("rig-a", O_RDONLY, direct), 0);
    EXPECT_FALSE(std::get<RigFile>(*direct).page_cache);
    const off_t new_size = static_cast<off_t>(credential_of(*direct).content.size());
    ASSERT_NE(new_size, old_size);
    NodeAttr attr;
    ASSERT_EQ(fs_.lookup("rig-a", attr), 0);
    EXPECT_EQ(attr.size, old_size);
    EXPECT_TRUE(attr.cacheable);
    ASSERT_EQ(fs_.getattr(attr.ino, direct.get(), attr), 0);
    EXPECT_EQ(attr.size, old_size);

    fs_.release(*cached);
    ASSERT_EQ(fs_.getattr(attr.ino, nullptr, attr), 0);
    EXPECT_EQ(attr.size, new_size);
    fs_.release(*direct);
}

// Every change of the served content reaches the registry's ServedFeed with
// the rig's file name (never a token), and unsubscribing stops it.
TEST_F(FilesystemTest, AChangeOfTheServedContentReachesTheServedFeed) {
    std::vector<std::string> changed;
    registry_.served_feed().subscribe([&](const std::string& file) { changed.push_back(file); });
    registry_.find("rig-a")->refresh_async(RefreshTrigger::OnDemand).wait();  // a first token
    std::unique_ptr<OpenFile> lock;
    ASSERT_EQ(create("rig-a.lock", O_RDWR | O_CREAT | O_EXCL, lock), 0);
    const std::string rewrite = "https://x-access-token:ghs_OLD@github.com\nhttps://a:b@c\n";
    ASSERT_EQ(fs_.write(*lock, rewrite, 0, false), static_cast<ssize_t>(rewrite.size()));
    fs_.release(*lock);
    ASSERT_EQ(fs_.rename("rig-a.lock", "rig-a", false), 0);
    EXPECT_EQ(changed, (std::vector<std::string>{"rig-a", "rig-a"}));  // the token, the kept line
    registry_.served_feed().subscribe({});
    registry_.find("b.cred")->refresh_async(RefreshTrigger::OnDemand).wait();
    EXPECT_EQ(changed.size(), 2u);
}

TEST_F(FilesystemTest, OnlyRigFilesAndTheRootHaveCacheableAttributes) {
    NodeAttr attr;
    ASSERT_EQ(fs_.getattr(kRootIno, nullptr, attr), 0);
    EXPECT_TRUE(attr.cacheable);
    ASSERT_EQ(fs_.lookup(".status", attr), 0);
    EXPECT_FALSE(attr.cacheable);
    std::unique_ptr<OpenFile> lock;
    ASSERT_EQ(create("x.lock", O_RDWR | O_CREAT | O_EXCL, lock), 0);
    ASSERT_EQ(fs_.lookup("x.lock", attr), 0);
    EXPECT_FALSE(attr.cacheable);
    fs_.release(*lock);
}

}  // namespace
}  // namespace credfs::test
