#include "credfs/engine/metrics.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace credfs {
namespace {

using test::FakeClock;
using test::FakeSource;

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

bool has_line(const std::string& text, const std::string& line) {
    for (const auto& l : lines_of(text)) {
        if (l == line) return true;
    }
    return false;
}

// Text exposition format 0.0.4: comments, or `name{label="value",...} value`.
bool is_exposition_line(const std::string& line) {
    static const std::regex kComment(R"(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+)");
    static const std::regex kSample(
        R"re([a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*")*\})? ([-+]?[0-9.eE+-]+|[+-]Inf|NaN))re");
    return std::regex_match(line, kComment) || std::regex_match(line, kSample);
}

class MetricsTest : public ::testing::Test {
  protected:
    std::string render() const {
        return render_metrics(*registry_.rigs(), StatusInfo{"1.2.3", started_}, clock_.now());
    }
    Config config_ = test::two_rig_config();
    FakeClock clock_;
    const WallTime started_ = clock_.now();
    FakeSource source_{clock_, 60};
    RigRegistry registry_{config_, source_, clock_, [] { return 0.0; }, {}};
};

TEST_F(MetricsTest, ExactLinesForARigWithKnownStats) {
    const RigPtr rig = registry_.find("rig-a");
    ASSERT_EQ(rig->credential_for_read().error, 0);  // no token yet: one on-demand wait
    const std::string before = render();
    EXPECT_TRUE(has_line(before, R"(gastown_credfs_up{rig="rig-a",file="rig-a"} 1)")) << before;

    source_.fail_next(1);
    rig->refresh_async(RefreshTrigger::Background).wait();
    clock_.advance(10);
    const std::string text = render();
    const long long expiry_unix =
        std::chrono::duration_cast<std::chrono::seconds>(started_.time_since_epoch()).count() + 60;
    const std::string a = R"({rig="rig-a",file="rig-a"})";
    for (const std::string& line : {
             std::string("# HELP gastown_credfs_refreshes_total Successful refreshes."),
             std::string("# TYPE gastown_credfs_refreshes_total counter"),
             "gastown_credfs_refreshes_total" + a + " 1",
             "gastown_credfs_refresh_failures_total" + a + " 1",
             "gastown_credfs_on_demand_waits_total" + a + " 1",
             "gastown_credfs_rejections_total" + a + " 0",
             "gastown_credfs_write_through_failures_total" + a + " 0",
             "gastown_credfs_consecutive_failures" + a + " 1",
             "gastown_credfs_up" + a + " 0",  // failing
             "gastown_credfs_token_seconds_left" + a + " 50",
             "gastown_credfs_token_expiry_timestamp_seconds" + a + " " +
                 std::to_string(expiry_unix),
             "gastown_credfs_on_demand_wait_seconds_count" + a + " 1",
             std::string(R"(gastown_credfs_on_demand_wait_seconds_bucket{rig="rig-a",)"
                         R"(file="rig-a",le="+Inf"} 1)"),
             std::string("# TYPE gastown_credfs_on_demand_wait_seconds histogram"),
             std::string("# TYPE gastown_credfs_up gauge"),
             std::string(R"(gastown_credfs_up{rig="rig-b",file="b.cred"} 0)"),
             std::string(R"(gastown_credfs_refreshes_total{rig="rig-b",file="b.cred"} 0)"),
             std::string("gastown_credfs_uptime_seconds 10"),
             std::string(R"(gastown_credfs_build_info{version="1.2.3"} 1)"),
         }) {
        EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n" << text;
    }
    // A rig with no token has no expiry series.
    EXPECT_EQ(text.find(R"(token_seconds_left{rig="rig-b")"), std::string::npos) << text;
    EXPECT_EQ(text.find(R"(token_expiry_timestamp_seconds{rig="rig-b")"), std::string::npos);
    for (const auto& line : lines_of(text)) EXPECT_TRUE(is_exposition_line(line)) << line;
    EXPECT_EQ(text.back(), '\n');
}

TEST_F(MetricsTest, NeverExpiringTokenReportsInfinity) {
    source_.set_expire(false);
    source_.push(Token{"ghp_pat", std::nullopt});
    ASSERT_EQ(registry_.find("rig-a")->credential_for_read().error, 0);
    const std::string text = render();
    const std::string a = R"({rig="rig-a",file="rig-a"})";
    EXPECT_TRUE(has_line(text, "gastown_credfs_token_seconds_left" + a + " +Inf")) << text;
    EXPECT_TRUE(has_line(text, "gastown_credfs_token_expiry_timestamp_seconds" + a + " +Inf"));
    EXPECT_TRUE(has_line(text, "gastown_credfs_up" + a + " 1"));
}

TEST_F(MetricsTest, OutputNeverContainsATokenOrItsPrefix) {
    std::vector<std::string> issued;
    for (int round = 0; round < 2; ++round) {
        for (const char* file : {"rig-a", "b.cred"}) {
            const ReadResult r = registry_.find(file)->credential_for_read();
            ASSERT_EQ(r.error, 0);
            issued.push_back(r.credential->token);
        }
        clock_.advance(55);  // stale: the next round refreshes again
    }
    ASSERT_EQ(source_.calls(), 4);
    const std::string text = render();
    EXPECT_EQ(text.find("ghs_"), std::string::npos) << text;
    for (const auto& token : issued) {
        ASSERT_FALSE(token.empty());
        EXPECT_EQ(text.find(token), std::string::npos);  // never print the token itself
    }
}

TEST(MetricsRender, HistogramBucketsAreCumulativeAndInclusive) {
    RigMetrics r;
    r.id = r.file = "r";
    r.state = "ok";
    WaitHistogram& h = r.stats.on_demand_wait;
    for (const double s : {0.00390625, 0.25, 0.375, 0.375, 16.0}) h.record(s);
    EXPECT_EQ(h.count(), 5u);
    const std::string text = render_metrics({r}, StatusInfo{"v", WallTime{}}, WallTime{});
    std::vector<std::string> got;
    for (const auto& line : lines_of(text)) {
        if (line.starts_with("gastown_credfs_on_demand_wait_seconds")) got.push_back(line);
    }
    const std::string p = R"(gastown_credfs_on_demand_wait_seconds_bucket{rig="r",file="r",le=")";
    EXPECT_EQ(got, (std::vector<std::string>{
                       p + R"(0.005"} 1)",
                       p + R"(0.01"} 1)",
                       p + R"(0.025"} 1)",
                       p + R"(0.05"} 1)",
                       p + R"(0.1"} 1)",
                       p + R"(0.25"} 2)",
                       p + R"(0.5"} 4)",
                       p + R"(1"} 4)",
                       p + R"(2.5"} 4)",
                       p + R"(5"} 4)",
                       p + R"(10"} 4)",
                       p + R"(+Inf"} 5)",
                       R"(gastown_credfs_on_demand_wait_seconds_sum{rig="r",file="r"} 17.00390625)",
                       R"(gastown_credfs_on_demand_wait_seconds_count{rig="r",file="r"} 5)",
                   }));
}

TEST(MetricsRender, EmptyHistogramHasZeroBucketsAndSum) {
    RigMetrics r;
    r.id = r.file = "r";
    const std::string text = render_metrics({r}, StatusInfo{"v", WallTime{}}, WallTime{});
    EXPECT_TRUE(has_line(
        text, R"(gastown_credfs_on_demand_wait_seconds_bucket{rig="r",file="r",le="+Inf"} 0)"));
    EXPECT_TRUE(has_line(text, R"(gastown_credfs_on_demand_wait_seconds_sum{rig="r",file="r"} 0)"));
}

TEST(MetricsRender, LabelValuesAreEscaped) {
    EXPECT_EQ(escape_label_value("plain-rig_1.x"), "plain-rig_1.x");
    EXPECT_EQ(escape_label_value("a\\b\"c\nd"), R"(a\\b\"c\nd)");
    RigMetrics r;
    r.id = "we\"ird\\\nid";
    r.file = "f";
    r.state = "ok";
    const std::string text = render_metrics({r}, StatusInfo{"1\"", WallTime{}}, WallTime{});
    EXPECT_TRUE(has_line(text, R"(gastown_credfs_up{rig="we\"ird\\\nid",file="f"} 1)")) << text;
    EXPECT_TRUE(has_line(text, R"(gastown_credfs_build_info{version="1\""} 1)")) << text;
    for (const auto& line : lines_of(text)) EXPECT_TRUE(is_exposition_line(line)) << line;
}

TEST(MetricsRender, UpFollowsTheRigState) {
    for (const auto& [state, up] : std::vector<std::pair<std::string, const char*>>{
             {"ok", "1"}, {"stale", "1"}, {"failing", "0"}, {"expired", "0"}, {"no token", "0"}}) {
        RigMetrics r;
        r.id = r.file = "r";
        r.state = state;
        const std::string text = render_metrics({r}, StatusInfo{"v", WallTime{}}, WallTime{});
        EXPECT_TRUE(has_line(text, std::string(R"(gastown_credfs_up{rig="r",file="r"} )") + up))
            << state;
    }
}

}  // namespace
}  // namespace credfs

namespace credfs {
namespace {

TEST(MetricsRender, RateLimitGaugesPerInstallationAndRevocationCounters) {
    RigMetrics r;
    r.id = r.file = "r";
    RateLimit l;
    l.installation = "42";
    l.limit = 5000;
    l.remaining = 4990;
    l.reset_at = WallTime{} + std::chrono::seconds(1800000000);
    RevocationStats rev;
    rev.revoked = 3;
    rev.already_dead = 1;
    rev.failures = 2;
    rev.pending = 4;
    const std::string text = render_metrics({r}, StatusInfo{"v", WallTime{}}, WallTime{}, {l}, rev);
    EXPECT_TRUE(has_line(text, R"(gastown_credfs_github_rate_limit{installation="42"} 5000)"))
        << text;
    EXPECT_TRUE(
        has_line(text, R"(gastown_credfs_github_rate_limit_remaining{installation="42"} 4990)"));
    EXPECT_TRUE(has_line(
        text,
        R"(gastown_credfs_github_rate_limit_reset_timestamp_seconds{installation="42"} 1800000000)"));
    EXPECT_TRUE(has_line(text, "# TYPE gastown_credfs_github_rate_limit_remaining gauge"));
    EXPECT_TRUE(has_line(text, R"(gastown_credfs_revocations_total{outcome="revoked"} 3)"));
    EXPECT_TRUE(has_line(text, R"(gastown_credfs_revocations_total{outcome="already_dead"} 1)"));
    EXPECT_TRUE(has_line(text, "gastown_credfs_revocation_failures_total 2"));
    EXPECT_TRUE(has_line(text, "gastown_credfs_revocations_pending 4"));
    EXPECT_TRUE(has_line(text, "# TYPE gastown_credfs_revocations_total counter"));
    const std::string without = render_metrics({r}, StatusInfo{"v", WallTime{}}, WallTime{});
    EXPECT_EQ(without.find("rate_limit"), std::string::npos) << "no GitHub source, no gauges";
    EXPECT_EQ(without.find("revocation"), std::string::npos);
}

}  // namespace
}  // namespace credfs
