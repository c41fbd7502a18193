// The credential helper through real git and the real binary, against a
// mounted daemon and the fake upstream: the same freshness as an open of the
// rig file, with the token's expiry (issue 12, section 2).
#include <json/json.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mount_fixture.hpp"

#ifndef CREDFS_BINARY
#error "CREDFS_BINARY must name the gastown-credfs executable"
#endif

namespace credfs::itest {
namespace {

constexpr char kGitHub[] = "protocol=https\nhost=github.com\n";

class HelperTest : public MountTest {
  protected:
    std::string socket() const { return harness_.mountpoint() + ".sock"; }

    /// `git credential <action>` with only the helper for rig-a configured.
    ProcessResult git_credential(const std::string& action, const std::string& input,
                                 const std::vector<std::string>& extra_config = {}) const {
        std::vector<std::string> argv = {"env",
                                         "GIT_CONFIG_NOSYSTEM=1",
                                         "GIT_CONFIG_GLOBAL=/dev/null",
                                         "GIT_TERMINAL_PROMPT=0",
                                         "git",
                                         "-c",
                                         "credential.helper=",
                                         "-c",
                                         "credential.helper=!" + std::string(CREDFS_BINARY) +
                                             " credential-helper --socket " + socket() +
                                             " --rig rig-a"};
        for (const auto& c : extra_config) {
            argv.push_back("-c");
            argv.push_back(c);
        }
        argv.push_back("credential");
        argv.push_back(action);
        return run_process(argv, input, 60s);
    }

    /// The helper command itself, as git runs it.
    ProcessResult helper(const std::string& action, const std::string& input,
                         const std::string& socket_path) const {
        return run_process(
            {CREDFS_BINARY, "credential-helper", "--socket", socket_path, "--rig", "rig-a", action},
            input, 60s);
    }

    /// The value of `key` in attribute output, or "".
    static std::string attribute(const std::string& text, const std::string& key) {
        std::istringstream in(text);
        for (std::string line; std::getline(in, line);) {
            if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
        }
        return "";
    }

    /// A counter of rig-a in the mount's .status.
    Json::Int64 status_counter(const std::string& name) const {
        const ReadResult r = read_whole_file(harness_.file(".status"));
        Json::Value root;
        std::istringstream in(r.data);
        in >> root;
        return root["rigs"][0][name].asInt64();
    }
};

TEST_F(HelperTest, GitFillGetsTheValidTokenOfTheMountAlsoWithUseHttpPath) {
    fake_.set_ttl(3600);
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    const auto token = wait_for_token("rig-a");
    ASSERT_TRUE(token.has_value());
    const ProcessResult fill = git_credential("fill", std::string(kGitHub) + "\n");
    ASSERT_EQ(fill.exit_code, 0) << fill.error;
    EXPECT_EQ(fill.error, "");
    EXPECT_EQ(attribute(fill.output, "username"), "x-access-token");
    EXPECT_EQ(attribute(fill.output, "password"), token->token);
    EXPECT_TRUE(fake_.is_valid(attribute(fill.output, "password")));
    // The mount serves the same token.
    EXPECT_EQ(token_from_line(read_whole_file(harness_.file("rig-a")).data), token->token);

    const ProcessResult with_path = git_credential(
        "fill", std::string(kGitHub) + "path=owner/repo.git\n\n", {"credential.useHttpPath=true"});
    ASSERT_EQ(with_path.exit_code, 0) << with_path.error;
    EXPECT_EQ(attribute(with_path.output, "password"), token->token);
    EXPECT_EQ(attribute(with_path.output, "path"), "owner/repo.git");
    // Another host is not the rig's: git finds no credential (and may not prompt).
    const ProcessResult other = git_credential("fill", "protocol=https\nhost=gitlab.example\n\n");
    EXPECT_NE(other.exit_code, 0);
    EXPECT_EQ(other.output.find(token->token), std::string::npos);
    EXPECT_EQ(other.error.find(token->token), std::string::npos);
    EXPECT_EQ(fake_.calls("rig-a"), 1);
}

TEST_F(HelperTest, PasswordExpiryIsTheUpstreamsExpiry) {
    fake_.set_ttl(3600);
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    const auto token = wait_for_token("rig-a");
    ASSERT_TRUE(token.has_value());
    const ProcessResult get = helper("get", std::string(kGitHub) + "\n", socket());
    ASSERT_EQ(get.exit_code, 0);
    EXPECT_EQ(get.error, "");
    EXPECT_EQ(attribute(get.output, "password"), token->token);
    const auto expiry =
        std::chrono::duration_cast<std::chrono::seconds>(token->expires_at.time_since_epoch())
            .count();
    EXPECT_EQ(attribute(get.output, "password_expiry_utc"), std::to_string(expiry)) << get.output;
}

TEST_F(HelperTest, EraseOfTheCurrentTokenRefreshesAndOfAnOlderOneDoesNot) {
    fake_.set_ttl(3600);
    RefreshParams no_lag_window;  // the token is seconds old: with one, the erase is lag
    no_lag_window.publish_delay_s = 0;
    ASSERT_NO_FATAL_FAILURE(start_daemon(no_lag_window, {{"rig-a", ""}}));
    const auto first = wait_for_token("rig-a");
    ASSERT_TRUE(first.has_value());
    const std::string user = std::string(kGitHub) + "username=x-access-token\npassword=";

    // A password that is not the daemon's token: no rejection.
    ProcessResult reject = git_credential("reject", user + "ghs_someoneelses\n\n");
    EXPECT_EQ(reject.exit_code, 0);
    EXPECT_EQ(reject.error, "");
    EXPECT_EQ(status_counter("rejections"), 0);

    reject = git_credential("reject", user + first->token + "\n\n");
    EXPECT_EQ(reject.exit_code, 0);
    EXPECT_EQ(reject.error, "");
    ASSERT_TRUE(wait_until([&] { return fake_.calls("rig-a") == 2; }, 20s));
    std::optional<std::string> second;
    ASSERT_TRUE(wait_until(
        [&] {
            second = token_from_line(read_whole_file(harness_.file("rig-a")).data);
            return second && *second != first->token;
        },
        20s));
    EXPECT_EQ(status_counter("rejections"), 1);
    EXPECT_EQ(attribute(git_credential("fill", std::string(kGitHub) + "\n").output, "password"),
              *second);

    // The first token again (a git that read it before the refresh): nothing.
    reject = git_credential("reject", user + first->token + "\n\n");
    EXPECT_EQ(reject.exit_code, 0);
    EXPECT_EQ(status_counter("rejections"), 1);
    EXPECT_EQ(fake_.calls("rig-a"), 2);
    EXPECT_EQ(token_from_line(read_whole_file(harness_.file("rig-a")).data), *second);
}

TEST_F(HelperTest, DaemonDownPrintsNothingAndExitsZero) {
    const ProcessResult missing =
        helper("get", std::string(kGitHub) + "\n", harness_.root() + "/no-daemon.sock");
    EXPECT_EQ(missing.exit_code, 0);
    EXPECT_EQ(missing.output, "");
    EXPECT_EQ(missing.error, "");

    fake_.set_ttl(3600);
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    ASSERT_NE(attribute(helper("get", std::string(kGitHub) + "\n", socket()).output, "password"),
              "");
    harness_.stop();
    const ProcessResult stopped = helper("get", std::string(kGitHub) + "\n", socket());
    EXPECT_EQ(stopped.exit_code, 0);
    EXPECT_EQ(stopped.output, "");
    EXPECT_EQ(stopped.error, "");
    const ProcessResult erase = helper(
        "erase", std::string(kGitHub) + "username=x-access-token\npassword=ghs_x\n\n", socket());
    EXPECT_EQ(erase.exit_code, 0);
    EXPECT_EQ(erase.output + erase.error, "");
}

TEST_F(HelperTest, StatusAsksTheSocketWhenThereIsNoMount) {
    fake_.set_ttl(3600);
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    ASSERT_TRUE(wait_for_token("rig-a").has_value());
    // A path that is no mount, with the daemon's socket beside it.
    const std::string elsewhere = harness_.root() + "/elsewhere";
    ASSERT_EQ(::symlink(socket().c_str(), (elsewhere + ".sock").c_str()), 0);
    const ProcessResult status = run_process({CREDFS_BINARY, "status", elsewhere}, "", 60s);
    EXPECT_EQ(status.exit_code, 0) << status.error;
    EXPECT_NE(status.output.find("rig-a"), std::string::npos) << status.output;
    EXPECT_NE(status.output.find(" ok "), std::string::npos) << status.output;
    const ProcessResult none =
        run_process({CREDFS_BINARY, "status", harness_.root() + "/none"}, "", 60s);
    EXPECT_EQ(none.exit_code, 1);
    EXPECT_EQ(none.output, "");
}

TEST_F(HelperTest, FiftyConcurrentGetsOnAStaleRigMakeOneUpstreamCall) {
    // Tokens live 10 s and are stale under 8 s left: stale 2 s after issue,
    // renewed by the scheduler at 5 s (which joins the same flight).
    fake_.set_ttl(10);
    RefreshParams refresh;
    refresh.min_ttl_s = 8;
    refresh.margin_s = 5;
    refresh.read_timeout_s = 20;
    ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, {{"rig-a", ""}}));
    const auto first = wait_for_token("rig-a");
    ASSERT_TRUE(first.has_value());
    ASSERT_EQ(fake_.calls("rig-a"), 1);
    fake_.hold();
    ASSERT_TRUE(wait_until([&] { return seconds_left(*first) < 7.5; }, 20s));
    const Json::Int64 waits_before = status_counter("on_demand_waits");

    constexpr int kReaders = 50;
    std::vector<ProcessResult> results(kReaders);
    std::vector<std::thread> readers;
    for (int i = 0; i < kReaders; ++i) {
        readers.emplace_back(
            [&, i] { results[i] = helper("get", std::string(kGitHub) + "\n", socket()); });
    }
    // Every reader is waiting on the one held refresh before it may finish.
    const bool all_waiting = wait_until(
        [&] {
            return fake_.held() == 1 &&
                   status_counter("on_demand_waits") - waits_before >= kReaders;
        },
        20s);
    fake_.release();
    for (auto& t : readers) t.join();
    ASSERT_TRUE(all_waiting) << "held " << fake_.held() << ", waits "
                             << status_counter("on_demand_waits") - waits_before;
    EXPECT_EQ(fake_.calls("rig-a"), 2);
    const auto second = fake_.latest("rig-a");
    ASSERT_TRUE(second.has_value());
    for (const auto& r : results) {
        EXPECT_EQ(r.exit_code, 0);
        EXPECT_EQ(r.error, "");
        EXPECT_EQ(attribute(r.output, "password"), second->token);
    }
}

}  // namespace
}  // namespace credfs::itest
