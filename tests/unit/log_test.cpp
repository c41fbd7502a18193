#include <gtest/gtest.h>

#include <json/json.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "credfs/core/log.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

TEST(Redact, MasksGitHubTokensAndJwts) {
    EXPECT_EQ(redact("bad token ghs_abc123XYZ given"), "bad token [REDACTED] given");
    EXPECT_EQ(redact("ghp_x github_pat_11AB_cd gho_q"), "[REDACTED] [REDACTED] [REDACTED]");
    EXPECT_EQ(redact("jwt eyJhbGci.eyJzdWIi.sig-_x end"), "jwt [REDACTED] end");
    EXPECT_EQ(redact("plain message, no secrets"), "plain message, no secrets");
}

TEST(Printable, EscapesWhatCouldForgeALogLine) {
    EXPECT_EQ(printable("a\n2026-01-01 critical x\x1b[31m\\"),
              "a\\n2026-01-01 critical x\\x1b[31m\\\\");
    EXPECT_EQ(printable("rig-a.lock"), "rig-a.lock");
}

TEST(JsonLogLine, ExactShapeWithUtcMillisecondTime) {
    const WallTime t = *parse_iso8601("2026-01-02T03:04:05.678Z");
    EXPECT_EQ(json_log_line(t, "info", "rig rig-a: refreshed"),
              R"({"time":"2026-01-02T03:04:05.678Z","level":"info","msg":"rig rig-a: refreshed"})"
              "\n");
}

TEST(JsonLogLine, EscapesTheMessage) {
    const WallTime t{};
    const auto msg_of = [&](std::string_view msg) {
        const std::string line = json_log_line(t, "warning", msg);
        const std::string head = R"({"time":"1970-01-01T00:00:00.000Z","level":"warning","msg":)";
        EXPECT_EQ(line.rfind(head, 0), 0u) << line;
        EXPECT_EQ(line.substr(line.size() - 2), "}\n");
        return line.substr(head.size(), line.size() - head.size() - 2);
    };
    EXPECT_EQ(msg_of("say \"hi\" \\ there"), R"("say \"hi\" \\ there")");
    EXPECT_EQ(msg_of("a\nb\rc\td"), R"("a\nb\rc\td")");
    EXPECT_EQ(msg_of(std::string_view("\x01\x1b[31m\x7f\0", 8)),
              R"("\u0001\u001b[31m\u007f\u0000")");
    EXPECT_EQ(msg_of("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"),
              "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91\"");
    // Not UTF-8: a lone continuation byte, a truncated sequence, an overlong
    // slash, a surrogate.
    EXPECT_EQ(msg_of("a\x80z"), R"("a\ufffdz")");
    EXPECT_EQ(msg_of("a\xe2\x82"), R"("a\ufffd\ufffd")");
    EXPECT_EQ(msg_of("\xc0\xaf"), R"("\ufffd\ufffd")");
    EXPECT_EQ(msg_of("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");
}

// init_logging with log.format: each line written to the file is one JSON
// object (or, for plain, today's line), whatever the message holds.
class InitLoggingTest : public ::testing::Test {
  protected:
    void TearDown() override { spdlog::set_default_logger(previous_); }
    std::vector<std::string> lines_written(LogFormat format) {
        LogConfig config;
        config.file = dir_.path() + "/d.log";
        config.format = format;
        init_logging(config);
        spdlog::info("hello \"quoted\"\nsecond line {}", 42);
        spdlog::debug("below the level: not written");
        spdlog::warn("warned");
        spdlog::default_logger()->flush();
        std::ifstream in(config.file);
        std::vector<std::string> lines;
        for (std::string line; std::getline(in, line);) lines.push_back(line);
        return lines;
    }
    std::shared_ptr<spdlog::logger> previous_ = spdlog::default_logger();
    test::TempDir dir_;
};

TEST_F(InitLoggingTest, JsonFormatWritesOneParsableObjectPerLine) {
    const auto lines = lines_written(LogFormat::Json);
    ASSERT_EQ(lines.size(), 2u);
    Json::Value first;
    ASSERT_TRUE(Json::Reader().parse(lines[0], first)) << lines[0];
    EXPECT_EQ(first["level"].asString(), "info");
    EXPECT_EQ(first["msg"].asString(), "hello \"quoted\"\nsecond line 42");
    const std::string time = first["time"].asString();
    EXPECT_TRUE(std::regex_match(time, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
        << time;
    const auto when = parse_iso8601(time);
    ASSERT_TRUE(when.has_value());
    EXPECT_LT(std::abs(seconds_between(*when, WallClock::now())), 60);
    EXPECT_EQ(first.getMemberNames(), (std::vector<std::string>{"level", "msg", "time"}));
    Json::Value second;
    ASSERT_TRUE(Json::Reader().parse(lines[1], second)) << lines[1];
    EXPECT_EQ(second["level"].asString(), "warning");
    EXPECT_EQ(second["msg"].asString(), "warned");
}

TEST_F(InitLoggingTest, PlainFormatKeepsTodaysLines) {
    const auto lines = lines_written(LogFormat::Plain);
    ASSERT_EQ(lines.size(), 3u);  // the raw newline splits the first message
    EXPECT_TRUE(std::regex_match(
        lines[0],
        std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d info hello "quoted")")))
        << lines[0];
    EXPECT_EQ(lines[1], "second line 42");
    EXPECT_TRUE(lines[2].ends_with(" warning warned")) << lines[2];
}

}  // namespace
}  // namespace credfs
