#include "credfs/sources/rate_limit.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace credfs {
namespace {

std::map<std::string, std::string> headers(long long limit, long long remaining) {
    return {{"x-ratelimit-limit", std::to_string(limit)},
            {"x-ratelimit-remaining", std::to_string(remaining)},
            {"x-ratelimit-reset", "1800000000"}};
}

/// Captures the default logger's lines while alive.
class LogLines {
  public:
    LogLines() {
        auto logger = std::make_shared<spdlog::logger>(
            "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out_));
        logger->set_pattern("%l %v");
        spdlog::set_default_logger(logger);
    }
    ~LogLines() { spdlog::set_default_logger(previous_); }
    LogLines(const LogLines&) = delete;
    LogLines& operator=(const LogLines&) = delete;
    int count(const std::string& what) const {
        const std::string text = out_.str();
        int n = 0;
        for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
            ++n;
        }
        return n;
    }

  private:
    std::shared_ptr<spdlog::logger> previous_ = spdlog::default_logger();
    std::ostringstream out_;
};

TEST(ParseRateLimit, ReadsTheThreeHeadersCaseInsensitively) {
    const WallTime at = WallTime{} + std::chrono::seconds(1700000000);
    const auto r = parse_rate_limit({{"X-RateLimit-Limit", "5000"},
                                     {"x-ratelimit-remaining", "4990"},
                                     {"X-RATELIMIT-RESET", "1800000000"}},
                                    "42", at);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->installation, "42");
    EXPECT_EQ(r->limit, 5000);
    EXPECT_EQ(r->remaining, 4990);
    EXPECT_EQ(r->reset_at, WallTime{} + std::chrono::seconds(1800000000));
    EXPECT_EQ(r->observed_at, at);
}

TEST(ParseRateLimit, NeedsAllThreeAsNonNegativeIntegers) {
    EXPECT_FALSE(parse_rate_limit({}, "42", WallTime{}));
    auto h = headers(5000, 1);
    h.erase("x-ratelimit-reset");
    EXPECT_FALSE(parse_rate_limit(h, "42", WallTime{}));
    EXPECT_FALSE(parse_rate_limit(headers(0, 0), "42", WallTime{})) << "a limit of 0 says nothing";
    h = headers(5000, 1);
    h["x-ratelimit-remaining"] = "-1";
    EXPECT_FALSE(parse_rate_limit(h, "42", WallTime{}));
    h["x-ratelimit-remaining"] = "12abc";
    EXPECT_FALSE(parse_rate_limit(h, "42", WallTime{}));
}

TEST(RateLimitTracker, KeepsTheLatestAndWarnsOnceUnderTenPercentUntilItRecovers) {
    const LogLines log;
    RateLimitTracker t;
    EXPECT_FALSE(t.latest());
    t.observe({}, "42", WallTime{}, "github_app");
    EXPECT_FALSE(t.latest()) << "a response without the headers changes nothing";
    t.observe(headers(5000, 500), "42", WallTime{}, "github_app");
    EXPECT_EQ(t.latest()->remaining, 500);
    EXPECT_EQ(log.count("rate limit low"), 0) << "exactly 10% is not under 10%";
    t.observe(headers(5000, 499), "42", WallTime{}, "github_app");
    t.observe(headers(5000, 300), "42", WallTime{}, "github_app");
    t.observe(headers(5000, 0), "42", WallTime{}, "github_app");
    EXPECT_EQ(log.count("rate limit low"), 1);
    EXPECT_EQ(log.count("499 of 5000"), 1) << "the warning names what is left";
    t.observe(headers(5000, 5000), "42", WallTime{}, "github_app");
    EXPECT_EQ(t.latest()->remaining, 5000);
    t.observe(headers(5000, 10), "42", WallTime{}, "github_app");
    EXPECT_EQ(log.count("rate limit low"), 2) << "re-armed once it recovered";
}

}  // namespace
}  // namespace credfs
