// HandleSet: the open handles the kernel holds, freed with the set when no
// RELEASE came (the daemon stopped with files open; ASan's leak check found
// them leaking before).
#include "credfs/fs/handle_set.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace credfs {
namespace {

struct Counted {
    explicit Counted(int& destroyed) : destroyed_(destroyed) {}
    ~Counted() { ++destroyed_; }
    Counted(const Counted&) = delete;
    Counted& operator=(const Counted&) = delete;
    int& destroyed_;
};

TEST(HandleSet, GetReturnsTheAdoptedHandleAndTakeGivesItBack) {
    int destroyed = 0;
    HandleSet<Counted> set;
    auto handle = std::make_unique<Counted>(destroyed);
    Counted* raw = handle.get();
    const uint64_t fh = set.adopt(std::move(handle));
    EXPECT_NE(fh, 0u);
    EXPECT_EQ(HandleSet<Counted>::get(fh), raw);
    EXPECT_EQ(set.size(), 1u);
    std::unique_ptr<Counted> back = set.take(fh);
    EXPECT_EQ(back.get(), raw);
    EXPECT_EQ(set.size(), 0u);
    EXPECT_EQ(destroyed, 0);
    back.reset();
    EXPECT_EQ(destroyed, 1);
}

TEST(HandleSet, TakingAHandleNotHeldGivesNothing) {
    int destroyed = 0;
    HandleSet<Counted> set;
    const uint64_t fh = set.adopt(std::make_unique<Counted>(destroyed));
    EXPECT_NE(set.take(fh), nullptr);
    EXPECT_EQ(set.take(fh), nullptr);  // a second RELEASE of the same fh
    EXPECT_EQ(set.take(0), nullptr);
    EXPECT_EQ(HandleSet<Counted>::get(0), nullptr);
}

TEST(HandleSet, HandlesNeverReleasedAreFreedWithTheSet) {
    int destroyed = 0;
    {
        HandleSet<Counted> set;
        set.adopt(std::make_unique<Counted>(destroyed));
        set.adopt(std::make_unique<Counted>(destroyed));
        const uint64_t released = set.adopt(std::make_unique<Counted>(destroyed));
        set.take(released);
        EXPECT_EQ(destroyed, 1);
    }
    EXPECT_EQ(destroyed, 3);
}

}  // namespace
}  // namespace credfs
