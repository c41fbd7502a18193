// KernelCache (fs/kernel_cache.hpp): a change of a rig's served content drops
// the kernel's attributes at once and its pages soon. The kernel is played by
// a recording Invalidate function; the mount-level checks are
// tests/integration/kernel_cache_test.cpp and kernel_cache_attack_test.cpp.
#include "credfs/fs/kernel_cache.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "filesystem_fixture.hpp"
#include "test_support.hpp"

namespace credfs::test {
namespace {

TEST(KernelCache, AChangeDropsTheAttributesAtOnceAndThePagesOnTheQueuesThread) {
    KernelCache cache;
    Mutex mu;
    std::vector<std::pair<Ino, bool>> calls;
    auto recorded = [&] {
        MutexLock lock(mu);
        return calls;
    };
    cache.set_invalidate([&](Ino ino, bool pages) {
        MutexLock lock(mu);
        calls.emplace_back(ino, pages);
        return 0;
    });
    cache.changed(7);  // not started: attributes only
    EXPECT_EQ(recorded(), (std::vector<std::pair<Ino, bool>>{{7, false}}));
    cache.start();
    cache.changed(42);
    EXPECT_EQ(recorded().at(1), (std::pair<Ino, bool>{42, false}));  // before changed() returned
    EXPECT_TRUE(eventually([&] { return recorded().size() == 3; }));
    EXPECT_EQ(recorded().at(2), (std::pair<Ino, bool>{42, true}));
    cache.stop();
    cache.changed(43);  // stopped: attributes only
    EXPECT_EQ(recorded().size(), 4u);
    cache.set_invalidate({});
    cache.changed(44);  // off: nothing
    EXPECT_EQ(recorded().size(), 4u);
}

TEST(KernelCache, EveryChangedInodeHasItsPagesDropped) {
    KernelCache cache;
    Mutex mu;
    std::set<Ino> dropped;
    cache.set_invalidate([&](Ino ino, bool pages) {
        if (pages) {
            MutexLock lock(mu);
            dropped.insert(ino);
        }
        return 0;
    });
    cache.start();
    for (Ino ino = 100; ino < 200; ++ino) cache.changed(ino);
    EXPECT_TRUE(eventually([&] {
        MutexLock lock(mu);
        return dropped.size() == 100;
    }));
    cache.stop();
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
