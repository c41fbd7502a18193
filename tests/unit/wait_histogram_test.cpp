#include <gtest/gtest.h>

#include "credfs/engine/wait_histogram.hpp"

namespace credfs {
namespace {

TEST(WaitHistogram, BoundsAreInclusiveAndTheLastBucketIsInf) {
    WaitHistogram h;
    h.record(0.005);  // exactly the first bound: le="0.005"
    h.record(0.0050001);
    h.record(10);  // exactly the last bound
    h.record(10.5);
    EXPECT_EQ(h.counts.front(), 1u);
    EXPECT_EQ(h.counts.at(1), 1u);
    EXPECT_EQ(h.counts.at(WaitHistogram::kBounds.size() - 1), 1u);
    EXPECT_EQ(h.counts.back(), 1u);
    EXPECT_EQ(h.count(), 4u);
    EXPECT_DOUBLE_EQ(h.sum_s, 0.005 + 0.0050001 + 10 + 10.5);
}

TEST(WaitHistogram, NegativeWaitsCountAsZero) {
    WaitHistogram h;
    h.record(-1);
    h.record(0);
    EXPECT_EQ(h.counts.front(), 2u);
    EXPECT_EQ(h.count(), 2u);
    EXPECT_DOUBLE_EQ(h.sum_s, 0);
}

TEST(WaitHistogram, StartsEmpty) {
    const WaitHistogram h;
    EXPECT_EQ(h.count(), 0u);
    EXPECT_DOUBLE_EQ(h.sum_s, 0);
    EXPECT_EQ(h.counts.size(), WaitHistogram::kBounds.size() + 1);
}

}  // namespace
}  // namespace credfs
