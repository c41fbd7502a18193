#include <gtest/gtest.h>

#include <limits>

#include "credfs/core/refresh_policy.hpp"

namespace credfs {
namespace {

const WallTime kT0 = WallTime{} + std::chrono::hours(500000);

WallTime at(double s) { return kT0 + to_wall_duration(s); }

TEST(RefreshTime, ExpiryMinusMarginMinusJitter) {
    RefreshConfig cfg;  // margin 600, jitter 30
    EXPECT_NEAR(seconds_between(kT0, refresh_time(kT0, at(3600), cfg, 0.0)), 3000, 1e-6);
    EXPECT_NEAR(seconds_between(kT0, refresh_time(kT0, at(3600), cfg, 0.5)), 2985, 1e-6);
}

TEST(RefreshTime, JitterStaysWithinBounds) {
    RefreshConfig cfg;
    auto random = default_random();
    for (int i = 0; i < 1000; ++i) {
        const double s = seconds_between(kT0, refresh_time(kT0, at(3600), cfg, random()));
        EXPECT_LE(s, 3000.0);
        EXPECT_GT(s, 2970.0);
    }
}

TEST(RefreshTime, ShortLivedTokenRenewsAtHalfLifeNotInALoop) {
    RefreshConfig cfg;  // margin 600 > a 300 s token's whole life
    EXPECT_NEAR(seconds_between(kT0, refresh_time(kT0, at(300), cfg, 1.0)), 150, 1e-6);
}

TEST(BackoffDelay, GrowsExponentiallyAndCaps) {
    RefreshConfig cfg;  // 0.5 s initial, 60 s cap
    EXPECT_DOUBLE_EQ(backoff_delay(1, cfg, 0.0), 0.5);
    EXPECT_DOUBLE_EQ(backoff_delay(2, cfg, 0.0), 1.0);
    EXPECT_DOUBLE_EQ(backoff_delay(3, cfg, 0.0), 2.0);
    EXPECT_DOUBLE_EQ(backoff_delay(8, cfg, 0.0), 60.0);
    EXPECT_DOUBLE_EQ(backoff_delay(1000, cfg, 0.0), 60.0);
    EXPECT_DOUBLE_EQ(backoff_delay(1000, cfg, 0.999999), 60.0 * (1 - 0.2 * 0.999999));
}

TEST(BackoffDelay, JitterOnlyShortens) {
    RefreshConfig cfg;
    auto random = default_random();
    for (int n = 1; n < 20; ++n) {
        const double d = backoff_delay(n, cfg, random());
        EXPECT_LE(d, cfg.backoff_max_s);
        EXPECT_GE(d, 0.8 * cfg.backoff_initial_s);
    }
}

TEST(RetryDelay, AnUpstreamsRetryAfterWinsOnlyWhenLongerAndIsCapped) {
    RefreshConfig cfg;                                     // 0.5 s initial, 60 s cap
    EXPECT_DOUBLE_EQ(retry_delay(1, cfg, 0.0, 0), 0.5);    // absent: backoff
    EXPECT_DOUBLE_EQ(retry_delay(3, cfg, 0.0, 1), 2.0);    // shorter than backoff
    EXPECT_DOUBLE_EQ(retry_delay(1, cfg, 0.0, 30), 30.0);  // longer: the upstream's
    EXPECT_DOUBLE_EQ(retry_delay(1, cfg, 0.0, 600), kMaxRetryAfterS);
    EXPECT_DOUBLE_EQ(retry_delay(1, cfg, 0.0, 601), kMaxRetryAfterS);
    EXPECT_DOUBLE_EQ(retry_delay(1, cfg, 0.0, 1e300), kMaxRetryAfterS);
    EXPECT_DOUBLE_EQ(retry_delay(1, cfg, 0.0, std::numeric_limits<double>::infinity()),
                     kMaxRetryAfterS);
}

TEST(RetryDelay, ANonsenseRetryAfterIsIgnored) {
    RefreshConfig cfg;
    EXPECT_DOUBLE_EQ(retry_delay(2, cfg, 0.0, -5), 1.0);
    EXPECT_DOUBLE_EQ(retry_delay(2, cfg, 0.0, std::numeric_limits<double>::quiet_NaN()), 1.0);
    EXPECT_DOUBLE_EQ(retry_delay(2, cfg, 0.0, -std::numeric_limits<double>::infinity()), 1.0);
}

TEST(EffectiveWindows, ThePublishDelayShrinksToFitBetweenMarginAndMinTtl) {
    RefreshConfig cfg;  // margin 600, min_ttl 300, delay 5, mandatory 60
    EXPECT_DOUBLE_EQ(effective_publish_delay_s(cfg), 5);
    EXPECT_DOUBLE_EQ(lag_window_s(cfg), 15);
    cfg.margin_s = 305;  // exactly room for the delay
    EXPECT_DOUBLE_EQ(effective_publish_delay_s(cfg), 5);
    cfg.margin_s = 302;
    EXPECT_DOUBLE_EQ(effective_publish_delay_s(cfg), 2);
    EXPECT_DOUBLE_EQ(lag_window_s(cfg), 12);
    cfg.margin_s = 100;  // margin below min_ttl: no room at all
    EXPECT_DOUBLE_EQ(effective_publish_delay_s(cfg), 0);
    EXPECT_DOUBLE_EQ(lag_window_s(cfg), 10);
    cfg.publish_delay_s = 0;  // turned off: no delay and no lag window
    cfg.margin_s = 600;
    EXPECT_DOUBLE_EQ(effective_publish_delay_s(cfg), 0);
    EXPECT_DOUBLE_EQ(lag_window_s(cfg), 0);
}

TEST(EffectiveWindows, TheMandatoryWindowIsAtMostMinTtl) {
    RefreshConfig cfg;
    EXPECT_DOUBLE_EQ(effective_mandatory_s(cfg), 60);
    cfg.min_ttl_s = 10;
    EXPECT_DOUBLE_EQ(effective_mandatory_s(cfg), 10);
    cfg.mandatory_s = 0;
    EXPECT_DOUBLE_EQ(effective_mandatory_s(cfg), 0);
}

TEST(IsFresh, MinTtlBoundaryCountsAsFresh) {
    RefreshConfig cfg;  // min_ttl 300
    Credential c("t", at(300), kT0, "x");
    EXPECT_TRUE(is_fresh(c, kT0, cfg));
    EXPECT_FALSE(is_fresh(c, at(0.001), cfg));
    Credential pat("t", WallTime::max(), kT0, "x");
    EXPECT_TRUE(is_fresh(pat, at(1e9), cfg));
}

}  // namespace
}  // namespace credfs
