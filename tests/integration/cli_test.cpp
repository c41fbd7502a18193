// The status, check and doctor commands against a real mount and the fake
// upstream: what an operator sees when an agent's push failed.
#include <json/json.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "mount_fixture.hpp"

#ifndef CREDFS_BINARY
#error "CREDFS_BINARY must name the gastown-credfs executable"
#endif

namespace credfs::itest {
namespace {

class CliTest : public MountTest {
  protected:
    /// Runs the binary with `args`. Through env(1), so the git it runs sees
    /// only the test's git config, never the machine's own ~/.gitconfig
    /// (and no setenv in this threaded process).
    ProcessResult cli(const std::vector<std::string>& args) const {
        std::vector<std::string> argv = {"env", "GIT_CONFIG_GLOBAL=" + git_global(),
                                         "GIT_CONFIG_NOSYSTEM=1", CREDFS_BINARY};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_process(argv, "", 60s);
    }

    /// Runs `status MOUNT` until `done` holds for its result (or `timeout`).
    ProcessResult status_until(const std::function<bool(const ProcessResult&)>& done,
                               std::chrono::milliseconds timeout) {
        ProcessResult r;
        wait_until(
            [&] {
                r = cli({"status", harness_.mountpoint()});
                return done(r);
            },
            timeout);
        return r;
    }

    /// Every token the fake handed out appears nowhere in `text`.
    void expect_no_token_in(const std::string& text) {
        for (const auto& t : fake_.issued()) {
            EXPECT_EQ(text.find(t.token), std::string::npos) << "a token leaked into: " << text;
        }
    }

    /// The line of `text` that starts with `prefix`, or "".
    static std::string line_starting(const std::string& text, const std::string& prefix) {
        std::istringstream in(text);
        for (std::string line; std::getline(in, line);) {
            if (line.rfind(prefix, 0) == 0) return line;
        }
        return "";
    }

    std::string git_global() const { return harness_.root() + "/gitconfig"; }
};

TEST_F(CliTest, StatusOfAHealthyMountListsEveryRigAndExitsZero) {
    fake_.set_ttl(3600);
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}, {"rig-b", "b"}}));
    const ProcessResult r =
        status_until([](const ProcessResult& p) { return p.exit_code == 0; }, 20s);
    ASSERT_EQ(r.exit_code, 0) << r.output << r.error;
    const std::string a = line_starting(r.output, "rig-a ");
    const std::string b = line_starting(r.output, "b ");
    EXPECT_NE(a.find(" ok "), std::string::npos) << r.output;
    EXPECT_NE(a.find("59m "), std::string::npos) << "expires in about an hour: " << r.output;
    EXPECT_NE(a.find("s ago"), std::string::npos) << r.output;
    EXPECT_NE(b.find(" ok "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("2 rig(s)"), std::string::npos) << r.output;
    expect_no_token_in(r.output + r.error);

    const ProcessResult json = cli({"status", "--json", harness_.mountpoint()});
    EXPECT_EQ(json.exit_code, 0) << json.error;
    Json::Value doc;
    ASSERT_TRUE(Json::Reader().parse(json.output, doc)) << json.output;
    ASSERT_EQ(doc["rigs"].size(), 2u) << json.output;
    EXPECT_EQ(doc["rigs"][0]["file"].asString(), "rig-a");
    EXPECT_EQ(doc["rigs"][1]["state"].asString(), "ok");
    expect_no_token_in(json.output);
}

TEST_F(CliTest, StatusOfAFailingUpstreamShowsFailingThenExpiredAndExitsOne) {
    fake_.set_ttl(3);
    RefreshParams refresh;
    refresh.margin_s = 0.5;
    refresh.min_ttl_s = 0.5;
    refresh.read_timeout_s = 2;
    ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, {{"rig-a", ""}}));
    ASSERT_TRUE(wait_for_token("rig-a").has_value());
    fake_.force_status(500);

    auto row_has = [&](const ProcessResult& p, const std::string& word) {
        return line_starting(p.output, "rig-a ").find(word) != std::string::npos;
    };
    const ProcessResult failing = status_until(
        [&](const ProcessResult& p) { return p.exit_code == 1 && row_has(p, "failing"); }, 10s);
    EXPECT_EQ(failing.exit_code, 1) << failing.output << failing.error;
    EXPECT_TRUE(row_has(failing, "failing")) << failing.output;
    EXPECT_TRUE(row_has(failing, "HTTP 500")) << "the last error is shown: " << failing.output;

    const ProcessResult expired = status_until(
        [&](const ProcessResult& p) { return p.exit_code == 1 && row_has(p, "expired"); }, 10s);
    EXPECT_EQ(expired.exit_code, 1) << expired.output << expired.error;
    EXPECT_TRUE(row_has(expired, "expired")) << expired.output;
    expect_no_token_in(failing.output + expired.output);
}

TEST_F(CliTest, StatusOfAPlainDirectoryIsNotAMount) {
    const std::string plain = harness_.root() + "/plain";
    std::filesystem::create_directory(plain);
    const ProcessResult r = cli({"status", plain});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.output, "");
    EXPECT_NE(r.error.find(plain + ": not a gastown-credfs mount"), std::string::npos) << r.error;
}

TEST_F(CliTest, StatusOfADeadMountSaysTheDaemonDiedAndHowToClearIt) {
    fake_.set_ttl(3600);
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    ASSERT_TRUE(wait_for_token("rig-a").has_value());
    harness_.expect_killed_by_signal(SIGKILL);
    ::kill(harness_.pid(), SIGKILL);
    ASSERT_TRUE(wait_until([&] { return !harness_.alive(); }, 10s));
    const ProcessResult r = cli({"status", harness_.mountpoint()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.error, "gastown-credfs: " + harness_.mountpoint() +
                           ": daemon died (Transport endpoint is not connected); run "
                           "gastown-creds-umount --mountpoint " +
                           harness_.mountpoint() + "\n");
    const ProcessResult doctor = cli({"doctor", harness_.mountpoint()});
    EXPECT_EQ(doctor.exit_code, 1);
    EXPECT_NE(doctor.output.find("FAIL " + harness_.mountpoint() + ": daemon died"),
              std::string::npos)
        << doctor.output;
}

TEST_F(CliTest, CheckFetchesOneTokenPerRigWithoutMountingOrWriting) {
    fake_.set_ttl(3600);
    harness_.write_jwt(kJwt);
    harness_.write_config(fake_.base_url(), RefreshParams{}, {{"rig-a", ""}, {"rig-b", "b"}});
    const ProcessResult r = cli({"check", "--config", harness_.config_path()});
    EXPECT_EQ(r.exit_code, 0) << r.output << r.error;
    EXPECT_EQ(line_starting(r.output, "OK   rig-a  token valid for 59m ").empty(), false)
        << r.output;
    EXPECT_EQ(line_starting(r.output, "OK   b      token valid for 59m ").empty(), false)
        << r.output;
    EXPECT_EQ(fake_.calls("rig-a"), 1);
    EXPECT_EQ(fake_.calls("rig-b"), 1);
    expect_no_token_in(r.output + r.error);
    EXPECT_TRUE(std::filesystem::is_empty(harness_.mountpoint())) << "no fallback file written";
    EXPECT_FALSE(harness_.mounted());
}

TEST_F(CliTest, CheckAgainstAFailingUpstreamNamesTheReason) {
    harness_.write_jwt(kJwt);
    harness_.write_config(fake_.base_url(), RefreshParams{}, {{"rig-a", ""}});
    fake_.force_status(503);
    const ProcessResult r = cli({"check", "--config", harness_.config_path()});
    EXPECT_EQ(r.exit_code, 1) << r.output << r.error;
    const std::string line = line_starting(r.output, "FAIL rig-a  ");
    EXPECT_NE(line.find("HTTP 503"), std::string::npos) << r.output;
    EXPECT_EQ((r.output + r.error).find(kJwt), std::string::npos);
    EXPECT_TRUE(std::filesystem::is_empty(harness_.mountpoint()));
}

TEST_F(CliTest, DoctorFindsATokenInTheRemoteUrlMaskedAndPassesOnceFixed) {
    fake_.set_ttl(3600);
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    ASSERT_TRUE(wait_for_token("rig-a").has_value());
    const std::string repo = harness_.root() + "/repo";
    const std::string secret = "ghs_doctorSecret0123456789abcdefABCDEF";
    const std::string helper = "store --file=" + harness_.file("rig-a");
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {"git", "init", "-q", repo},
             {"git", "-C", repo, "remote", "add", "origin",
              "https://x-access-token:" + secret + "@github.com/o/r.git"},
             {"git", "-C", repo, "config", "credential.https://github.com.helper", helper}}) {
        const ProcessResult g = run_process(argv, "", 30s);
        ASSERT_EQ(g.exit_code, 0) << g.error;
    }
    // Wait until every rig is ok, so the only FAIL left is the remote.
    ASSERT_EQ(status_until([](const ProcessResult& p) { return p.exit_code == 0; }, 20s).exit_code,
              0);

    const ProcessResult r = cli({"doctor", "--repo", repo, harness_.mountpoint()});
    EXPECT_EQ(r.exit_code, 1) << r.output << r.error;
    EXPECT_EQ(line_starting(r.output, "FAIL remote origin "),
              "FAIL remote origin https://x-access-token:***@github.com/o/r.git embeds a token, "
              "which wins over any credential helper and will expire; fix: git -C " +
                  repo + " remote set-url origin https://github.com/o/r.git")
        << r.output;
    EXPECT_NE(r.output.find("OK   /dev/fuse"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("OK   " + harness_.mountpoint() + ": mounted and serving"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("OK   credential.helper for https://github.com in " + repo + " is '" +
                            helper + "'"),
              std::string::npos)
        << r.output;
    EXPECT_EQ((r.output + r.error).find(secret), std::string::npos) << "the secret leaked";
    EXPECT_EQ((r.output + r.error).find("ghs_doctor"), std::string::npos);
    expect_no_token_in(r.output + r.error);

    // The fix it printed works: then nothing fails.
    ASSERT_EQ(run_process(
                  {"git", "-C", repo, "remote", "set-url", "origin", "https://github.com/o/r.git"},
                  "", 30s)
                  .exit_code,
              0);
    const ProcessResult fixed = cli({"doctor", "--repo", repo, harness_.mountpoint()});
    EXPECT_EQ(fixed.exit_code, 0) << fixed.output << fixed.error;
    EXPECT_EQ(fixed.output.find("FAIL"), std::string::npos) << fixed.output;
}

TEST_F(CliTest, DoctorPassesOnAHealthyFilesModeDaemonAndFailsOnceNoDaemonAnswers) {
    fake_.set_ttl(3600);
    harness_.write_jwt(kJwt);
    harness_.write_config(fake_.base_url(), RefreshParams{}, {{"rig-a", ""}});
    ASSERT_TRUE(harness_.start_files_mode());
    ASSERT_TRUE(wait_for_token("rig-a").has_value());
    const std::string mnt = harness_.mountpoint();
    const std::string daemon_helper = std::string("!") + CREDFS_BINARY +
                                      " credential-helper --socket " + mnt + ".sock --rig rig-a";
    // What gastown-creds-git-setup --helper writes.
    std::ofstream(git_global(), std::ios::trunc)
        << "[credential \"https://github.com\"]\n\thelper =\n\thelper = \"" << daemon_helper
        << "\"\n\thelper = store --file=" << mnt << "/rig-a\n\tuseHttpPath = false\n";
    // The rig file holds the daemon's token once the first write is through.
    ASSERT_EQ(status_until([](const ProcessResult& p) { return p.exit_code == 0; }, 20s).exit_code,
              0);

    const ProcessResult r = cli({"doctor", mnt});
    EXPECT_EQ(r.exit_code, 0) << r.output << r.error;
    EXPECT_EQ(r.output.find("FAIL"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("OK   " + mnt + ": files mode (no mount), the daemon answers on " +
                            mnt + ".sock, every rig ok"),
              std::string::npos)
        << r.output;
    EXPECT_NE(
        r.output.find("OK   rig files in " + mnt + " hold the daemon's newest tokens: rig-a ("),
        std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("OK   git asks the daemon first: credential.https://github.com.helper "
                            "runs '" +
                            daemon_helper + "', and the daemon answers on " + mnt + ".sock"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("OK   git asks https://github.com without a repository path"),
              std::string::npos)
        << r.output;
    expect_no_token_in(r.output + r.error);

    // The daemon dies: its socket is left behind, and nothing answers.
    harness_.expect_killed_by_signal(SIGKILL);
    ::kill(harness_.pid(), SIGKILL);
    ASSERT_TRUE(wait_until([&] { return !harness_.alive(); }, 10s));
    const ProcessResult dead = cli({"doctor", mnt});
    EXPECT_EQ(dead.exit_code, 1) << dead.output;
    EXPECT_NE(
        dead.output.find("FAIL " + mnt + ": no mount, and no daemon answers on " + mnt + ".sock"),
        std::string::npos)
        << dead.output;
    EXPECT_NE(dead.output.find("WARN credential.https://github.com.helper runs '" + daemon_helper +
                               "', but no daemon answers on " + mnt + ".sock"),
              std::string::npos)
        << dead.output;
    expect_no_token_in(dead.output + dead.error);
}

}  // namespace
}  // namespace credfs::itest
