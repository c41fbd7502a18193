#include "credfs/core/heap_optional.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "credfs/core/config.hpp"

namespace credfs {
namespace {

TEST(HeapOptional, CopiesOwnTheirValueLikeStdOptional) {
    HeapOptional<std::string> a;
    EXPECT_FALSE(a);
    a = std::string("one");
    ASSERT_TRUE(a.has_value());
    HeapOptional<std::string> b = a;
    *b = "two";
    EXPECT_EQ(*a, "one");
    EXPECT_EQ(*b, "two");
    a = b;
    EXPECT_EQ(*a, "two");
    b = HeapOptional<std::string>();
    EXPECT_FALSE(b);
    EXPECT_EQ(*a, "two");
    HeapOptional<std::string> c = std::move(a);
    EXPECT_EQ(c->size(), 3U);
}

TEST(HeapOptional, EqualWhenBothEmptyOrBothHoldEqualValues) {
    HeapOptional<std::string> none;
    HeapOptional<std::string> other_none;
    HeapOptional<std::string> x(std::string("x"));
    HeapOptional<std::string> another_x(std::string("x"));
    HeapOptional<std::string> y(std::string("y"));
    EXPECT_TRUE(none == other_none);
    EXPECT_TRUE(x == another_x);
    EXPECT_FALSE(x == y);
    EXPECT_FALSE(x == none);
    EXPECT_FALSE(none == x);
}

TEST(HeapOptional, KeepsARigConfigSmallWhateverItsSourceHolds) {
    // The point of it (issue #14): a rig's own source is not inline.
    EXPECT_LT(sizeof(RigConfig), sizeof(SourceConfig));
    RigConfig rig;
    SourceConfig own;
    own.type = SourceConfig::Type::Static;
    own.token_file = "/run/pat";
    rig.source = own;
    const RigConfig copy = rig;
    EXPECT_EQ(copy.source->token_file, "/run/pat");
    EXPECT_TRUE(copy.source == rig.source);
}

}  // namespace
}  // namespace credfs
