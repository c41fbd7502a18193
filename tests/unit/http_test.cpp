#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "credfs/core/http.hpp"

namespace credfs {
namespace {

// Tue, 15 Nov 1994 08:12:31 GMT, the RFC 9110 example.
const WallTime kNow = WallClock::from_time_t(784887151);

TEST(HttpHeaderTest, NamesAreCaseInsensitive) {
    const std::map<std::string, std::string> lower = {{"retry-after", "7"}, {"date", "d"}};
    EXPECT_EQ(header_value(lower, "retry-after"), "7");
    EXPECT_EQ(header_value(lower, "Retry-After"), "7");
    EXPECT_EQ(header_value(lower, "RETRY-AFTER"), "7");
    const std::map<std::string, std::string> mixed = {{"X-RateLimit-Reset", "12"}};
    EXPECT_EQ(header_value(mixed, "x-ratelimit-reset"), "12");
    EXPECT_EQ(header_value(mixed, "x-ratelimit"), "");
    EXPECT_EQ(header_value({}, "date"), "");
}

TEST(HttpDateTest, ReadsImfFixdate) {
    EXPECT_EQ(parse_http_date("Tue, 15 Nov 1994 08:12:31 GMT"), kNow);
    EXPECT_EQ(parse_http_date("tue, 15 NOV 1994 08:12:31 GMT"), kNow);
    EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), WallClock::from_time_t(0));
    EXPECT_EQ(parse_http_date("Sun, 29 Feb 2032 23:59:59 GMT"), WallClock::from_time_t(1961711999));
}

TEST(HttpDateTest, RefusesOtherFormsAndJunk) {
    for (const char* junk : {"", "soon", "Tue, 15 Nov 1994 08:12:31 UTC",
                             "Tue, 15 Nov 1994 08:12:31 GMT ", " Tue, 15 Nov 1994 08:12:31 GMT",
                             "Tuesday, 15-Nov-94 08:12:31 GMT",  // RFC 850, obsolete
                             "Tue Nov 15 08:12:31 1994",         // asctime, obsolete
                             "Tue, 31 Feb 1994 08:12:31 GMT", "Tue, 15 Foo 1994 08:12:31 GMT",
                             "Xyz, 15 Nov 1994 08:12:31 GMT", "Tue, 15 Nov 1994 24:12:31 GMT",
                             "Tue, +5 Nov 1994 08:12:31 GMT", "Tue, 15 Nov 1969 08:12:31 GMT",
                             "Tue, 15 Nov 9999 08:12:31 GMT"}) {
        EXPECT_EQ(parse_http_date(junk), std::nullopt) << junk;
    }
}

TEST(RetryAfterTest, DeltaSeconds) {
    EXPECT_DOUBLE_EQ(parse_retry_after("0", kNow), 0);
    EXPECT_DOUBLE_EQ(parse_retry_after("7", kNow), 7);
    EXPECT_DOUBLE_EQ(parse_retry_after("120", kNow), 120);
}

TEST(RetryAfterTest, HttpDateIsReadAgainstNow) {
    EXPECT_DOUBLE_EQ(parse_retry_after("Tue, 15 Nov 1994 08:13:01 GMT", kNow), 30);
    EXPECT_DOUBLE_EQ(parse_retry_after("Tue, 15 Nov 1994 08:12:31 GMT", kNow), 0);
}

TEST(RetryAfterTest, PastDatesAreZero) {
    EXPECT_DOUBLE_EQ(parse_retry_after("Tue, 15 Nov 1994 08:12:00 GMT", kNow), 0);
    EXPECT_DOUBLE_EQ(parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", kNow), 0);
}

TEST(RetryAfterTest, CappedOnceAtTheMaximum) {
    EXPECT_DOUBLE_EQ(parse_retry_after("601", kNow), kMaxRetryAfterS);
    EXPECT_DOUBLE_EQ(parse_retry_after("99999", kNow), kMaxRetryAfterS);
    EXPECT_DOUBLE_EQ(parse_retry_after("123456789012345", kNow), kMaxRetryAfterS);
    EXPECT_DOUBLE_EQ(parse_retry_after(std::string(400, '9'), kNow), kMaxRetryAfterS);
    EXPECT_DOUBLE_EQ(parse_retry_after("Wed, 16 Nov 1994 08:12:31 GMT", kNow), kMaxRetryAfterS);
    EXPECT_DOUBLE_EQ(kMaxRetryAfterS, 600);
}

TEST(RetryAfterTest, JunkIsZero) {
    for (const char* junk : {"", "soon", "-5", "+5", "1.5", "7 ", " 7", "0x10", "1e3", "NaN", "inf",
                             "Tue, 15 Nov 1994 08:13:01"}) {
        EXPECT_DOUBLE_EQ(parse_retry_after(junk, kNow), 0) << junk;
    }
}

TEST(RateLimitResetTest, SecondsUntilTheEpochGiven) {
    EXPECT_DOUBLE_EQ(*parse_ratelimit_reset("784887271", kNow), 120);
    EXPECT_DOUBLE_EQ(*parse_ratelimit_reset("784887000", kNow), 0) << "already reset";
    EXPECT_DOUBLE_EQ(*parse_ratelimit_reset("1e300", kNow), kMaxRetryAfterS);
    EXPECT_DOUBLE_EQ(*parse_ratelimit_reset("784897151", kNow), kMaxRetryAfterS);
    EXPECT_EQ(parse_ratelimit_reset("", kNow), std::nullopt);
    EXPECT_EQ(parse_ratelimit_reset("soon", kNow), std::nullopt);
    EXPECT_EQ(parse_ratelimit_reset("784887271s", kNow), std::nullopt);
    EXPECT_DOUBLE_EQ(parse_ratelimit_reset("nan", kNow).value_or(-1), 0);
}

}  // namespace
}  // namespace credfs
