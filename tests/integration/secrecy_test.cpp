// docs/design.md, invariant 6 and the container JWT: secrets stay out of logs and argv, and
// the JWT file is re-read on every call because another process renews it.
#include <sys/stat.h>

#include <fcntl.h>

#include <cerrno>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

std::string read_proc(pid_t pid, const char* what) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/" + what, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    return buf.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

class SecrecyTest : public MountTest {};

TEST_F(SecrecyTest, NoTokenOrJwtInLogsOutputOrCmdline) {
    fake_.set_ttl(2);
    RefreshParams refresh;
    refresh.margin_s = 0.5;
    refresh.min_ttl_s = 0.5;
    refresh.jitter_s = 0.1;
    refresh.read_timeout_s = 3;
    ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, {{"rig-a", ""}, {"rig-b", "b.cred"}}));

    // Exercise the paths that log: startup, background refreshes, reads,
    // upstream errors (one 500, then a few 401s from a JWT mismatch).
    ASSERT_TRUE(wait_until([&] { return fake_.issued("rig-a").size() >= 2; }, 10s));
    EXPECT_EQ(read_whole_file(harness_.file("rig-a")).error, 0);
    EXPECT_EQ(read_whole_file(harness_.file("b.cred")).error, 0);
    fake_.force_status(500, 1);
    ASSERT_TRUE(fake_.wait_for_calls(fake_.calls() + 1, SteadyClock::now() + 10s));
    fake_.set_expected_jwt("eyJub3QiOiJ0aGlzIn0.eyJub3QiOiJ0aGlzIn0.d3Jvbmc");
    ASSERT_TRUE(fake_.wait_for_calls(fake_.calls() + 2, SteadyClock::now() + 10s));
    fake_.set_expected_jwt(kJwt);
    const std::size_t issued_before = fake_.issued("rig-a").size();
    ASSERT_TRUE(wait_until([&] { return fake_.issued("rig-a").size() > issued_before; }, 10s))
        << "no token issued after the upstream errors stopped";
    EXPECT_EQ(read_whole_file(harness_.file("rig-a")).error, 0);

    // The daemon's own files, read through the mount after tokens were issued.
    const ReadResult status = read_whole_file(harness_.file(".status"));
    const ReadResult metrics = read_whole_file(harness_.file(".metrics"));
    ASSERT_EQ(status.error, 0);
    ASSERT_EQ(metrics.error, 0);
    ASSERT_NE(metrics.data.find("gastown_credfs_refreshes_total{rig=\"rig-a\""), std::string::npos)
        << metrics.data;
    const std::string cmdline = read_proc(harness_.pid(), "cmdline");
    const std::string environ = read_proc(harness_.pid(), "environ");
    ASSERT_FALSE(cmdline.empty());
    harness_.stop();  // flushes and closes the log
    const std::string log = harness_.log_text();
    const std::string output = harness_.output_text();
    EXPECT_FALSE(log.empty()) << "the daemon logged nothing at debug level";

    const auto issued = fake_.issued();
    ASSERT_GE(issued.size(), 3u);
    for (const auto& t : issued) {
        // The random part alone: a leak need not keep the ghs_ prefix.
        const std::string secret = t.token.substr(4);
        EXPECT_EQ(log.find(secret), std::string::npos) << "token of " << t.rig_id << " in log";
        EXPECT_EQ(output.find(secret), std::string::npos)
            << "token of " << t.rig_id << " in stdout/stderr";
        EXPECT_EQ(cmdline.find(secret), std::string::npos) << "token in cmdline";
        EXPECT_EQ(environ.find(secret), std::string::npos) << "token in environ";
        EXPECT_EQ(status.data.find(secret), std::string::npos) << "token in .status";
        EXPECT_EQ(metrics.data.find(secret), std::string::npos) << "token in .metrics";
    }
    for (const std::string& text : {log, output, cmdline, status.data, metrics.data}) {
        EXPECT_EQ(text.find(kJwt), std::string::npos) << "container JWT leaked";
        // Each JWT part alone, too: a log line may split it at the dots.
        std::string jwt = kJwt;
        std::istringstream parts(jwt);
        std::string part;
        while (std::getline(parts, part, '.')) {
            EXPECT_EQ(text.find(part), std::string::npos) << "part of the JWT leaked: " << part;
        }
    }
}

// <mnt>/.metrics through a real mount: read-only 0400, and every line is the
// Prometheus text format 0.0.4 (a comment, or `name{labels} value`).
TEST_F(SecrecyTest, MetricsFileIsPrometheusTextWithoutTokens) {
    RefreshParams refresh;
    refresh.read_timeout_s = 5;
    ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, {{"rig-a", ""}, {"rig-b", "b.cred"}}));
    ASSERT_TRUE(wait_for_token("rig-a").has_value());
    ASSERT_TRUE(wait_for_token("rig-b").has_value());
    // The fake counts a token as issued before the daemon has its answer.
    const std::string b_up = "gastown_credfs_up{rig=\"rig-b\",file=\"b.cred\"} 1\n";
    ASSERT_TRUE(wait_until(
        [&] {
            return read_whole_file(harness_.file(".metrics")).data.find(b_up) != std::string::npos;
        },
        20s));

    struct stat st {};
    ASSERT_EQ(::stat(harness_.file(".metrics").c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0400u);
    EXPECT_EQ(::open(harness_.file(".metrics").c_str(), O_WRONLY), -1);
    EXPECT_EQ(errno, EACCES);

    const ReadResult r = read_whole_file(harness_.file(".metrics"));
    ASSERT_EQ(r.error, 0);
    ASSERT_FALSE(r.data.empty());
    EXPECT_EQ(r.data.back(), '\n');
    static const std::regex kComment(R"(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+)");
    static const std::regex kSample(
        R"re(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*")*\})? ([-+]?[0-9.eE+-]+|[+-]Inf|NaN))re");
    std::set<std::string> names;
    for (const auto& line : lines_of(r.data)) {
        std::smatch m;
        if (line.starts_with("#")) {
            EXPECT_TRUE(std::regex_match(line, kComment)) << line;
        } else if (std::regex_match(line, m, kSample)) {
            names.insert(m[1].str());
            EXPECT_TRUE(m[1].str().starts_with("gastown_credfs_")) << line;
        } else {
            ADD_FAILURE() << "not exposition format: " << line;
        }
    }
    for (const char* name :
         {"gastown_credfs_refreshes_total", "gastown_credfs_up", "gastown_credfs_uptime_seconds",
          "gastown_credfs_token_seconds_left", "gastown_credfs_build_info",
          "gastown_credfs_on_demand_wait_seconds_bucket",
          "gastown_credfs_on_demand_wait_seconds_count"}) {
        EXPECT_EQ(names.count(name), 1u) << name << " missing in\n" << r.data;
    }
    EXPECT_NE(r.data.find("gastown_credfs_up{rig=\"rig-b\",file=\"b.cred\"} 1\n"),
              std::string::npos)
        << r.data;

    const auto issued = fake_.issued();
    ASSERT_GE(issued.size(), 2u);
    for (const auto& t : issued) {
        EXPECT_EQ(r.data.find(t.token.substr(4)), std::string::npos) << "token of " << t.rig_id;
    }
    EXPECT_EQ(r.data.find("ghs_"), std::string::npos);
    EXPECT_EQ(r.data.find(kJwt), std::string::npos);
}

TEST_F(SecrecyTest, ContainerJwtIsReReadOnEveryCall) {
    fake_.set_ttl(2);
    RefreshParams refresh;
    refresh.margin_s = 0.5;
    refresh.min_ttl_s = 0.5;
    refresh.jitter_s = 0;
    refresh.read_timeout_s = 3;
    ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, {{"rig-a", ""}}));
    ASSERT_TRUE(wait_for_token("rig-a").has_value());

    const std::string renewed = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZW5ld2VkIn0.cmVuZXdlZC1zaWc";
    harness_.write_jwt(renewed);
    fake_.set_expected_jwt(renewed);
    const std::size_t before = fake_.issued("rig-a").size();
    ASSERT_TRUE(wait_until([&] { return fake_.issued("rig-a").size() > before; }, 10s))
        << "no token issued after the JWT file was renewed";
    const auto auths = fake_.authorizations();
    ASSERT_FALSE(auths.empty());
    EXPECT_EQ(auths.front(), std::string("Bearer ") + kJwt);
    EXPECT_EQ(auths.back(), "Bearer " + renewed);

    const ReadResult r = read_whole_file(harness_.file("rig-a"));
    ASSERT_EQ(r.error, 0);
    const auto token = token_from_line(r.data);
    ASSERT_TRUE(token.has_value());
    EXPECT_TRUE(fake_.is_valid(*token));
}

}  // namespace
}  // namespace credfs::itest
