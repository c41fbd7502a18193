// Invariant 6 and the container JWT: secrets stay out of logs and argv, and
// the JWT file is re-read on every call because another process renews it.
#include <fstream>
#include <sstream>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

std::string read_proc(pid_t pid, const char* what) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/" + what, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    return buf.str();
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
    }
    for (const std::string& text : {log, output, cmdline}) {
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
