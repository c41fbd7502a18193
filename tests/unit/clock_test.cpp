#include <gtest/gtest.h>

#include "credfs/core/clock.hpp"

namespace credfs {
namespace {

double epoch_of(WallTime t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

TEST(Iso8601, ParsesUtcWithZ) {
    auto t = parse_iso8601("2026-11-29T12:00:03Z");
    ASSERT_TRUE(t);
    EXPECT_DOUBLE_EQ(epoch_of(*t), 1795953603.0);
}

TEST(Iso8601, ParsesFractionAndOffsets) {
    auto frac = parse_iso8601("2026-11-29T12:00:03.512Z");
    ASSERT_TRUE(frac);
    EXPECT_NEAR(epoch_of(*frac), 1795953603.512, 1e-6);
    auto plus = parse_iso8601("2026-11-29T14:00:03+02:00");
    ASSERT_TRUE(plus);
    EXPECT_DOUBLE_EQ(epoch_of(*plus), 1795953603.0);
    auto minus = parse_iso8601("2026-11-29T07:00:03-05:00");
    ASSERT_TRUE(minus);
    EXPECT_DOUBLE_EQ(epoch_of(*minus), 1795953603.0);
}

TEST(Iso8601, RefusesMalformed) {
    for (const char* bad : {"", "2026-11-29", "2026-11-29T12:00:03", "2026-13-29T12:00:03Z",
                            "2026-11-29T12:00:03Zjunk", "2026-11-29T12:00:03.Z",
                            "2026-11-29T25:00:03Z", "yesterday", "2026-11-29T12:00:03+0200"}) {
        EXPECT_FALSE(parse_iso8601(bad)) << bad;
    }
}

TEST(Iso8601, FormatRoundTrips) {
    auto t = parse_iso8601("2026-11-29T12:00:03.512Z");
    ASSERT_TRUE(t);
    EXPECT_EQ(format_iso8601(*t), "2026-11-29T12:00:03.512Z");
}

TEST(Iso8601, RefusesImpossibleDatesAndOverflowingYears) {
    EXPECT_FALSE(parse_iso8601("2026-02-31T00:00:00Z"));  // not silently March 3
    EXPECT_FALSE(parse_iso8601("9999-12-31T23:59:59Z"));  // would overflow the clock
    EXPECT_TRUE(parse_iso8601("2028-02-29T00:00:00Z"));
}

}  // namespace
}  // namespace credfs
