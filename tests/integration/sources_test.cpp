// The core scenario with each token source: the daemon mounts, and git's own
// credential-store helper, pointed at a rig's file, gets the token that the
// source currently hands out. github_app runs against a fake GitHub that
// checks the App JWT the way GitHub does; exec runs a shell script; static
// reads a PAT file that the test rotates under the running daemon.
#include <json/json.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "daemon_harness.hpp"
#include "fake_github.hpp"

namespace credfs::itest {
namespace {

constexpr char kGitInput[] = "protocol=https\nhost=github.com\n\n";
constexpr std::int64_t kAppId = 123;
constexpr std::int64_t kInstallation = 42;

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const std::string& path, const std::string& content, mode_t mode) {
    std::ofstream(path, std::ios::trunc) << content;
    ::chmod(path.c_str(), mode);
}

class SourcesTest : public ::testing::Test {
  protected:
    void TearDown() override {
        if (HasFailure() && started_) std::cerr << harness_.diagnostics();
    }

    /// What `git credential-store get` answers for github.com from the rig's
    /// file in the mount: the password, or "" when it found none.
    std::string git_password(const std::string& file) {
        const ProcessResult r = run_process(
            {"git", "credential-store", "--file", harness_.file(file), "get"}, kGitInput, 20s);
        EXPECT_EQ(r.exit_code, 0) << r.error;
        std::istringstream lines(r.output);
        for (std::string line; std::getline(lines, line);) {
            if (line.rfind("password=", 0) == 0) return line.substr(9);
        }
        return {};
    }

    /// Makes the App's key with openssl (as an App owner would download it)
    /// and starts the fake GitHub that knows its public half.
    void start_fake_github() {
        key_path_ = harness_.root() + "/app.pem";
        const ProcessResult r = run_process({"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                                             "rsa_keygen_bits:2048", "-out", key_path_},
                                            "", 60s);
        ASSERT_EQ(r.exit_code, 0) << "openssl genpkey failed: " << r.error;
        ::chmod(key_path_.c_str(), 0600);
        github_ = std::make_unique<fakes::FakeGitHub>(std::to_string(kAppId), slurp(key_path_),
                                                      std::set<std::int64_t>{kInstallation});
    }

    Json::Value github_app_source() const {
        Json::Value s;
        s["type"] = "github_app";
        s["app_id"] = static_cast<Json::Int64>(kAppId);
        s["private_key_file"] = key_path_;
        s["installation_id"] = static_cast<Json::Int64>(kInstallation);
        s["api_url"] = github_->base_url();
        // The fake answers at once; these only bound a hung one.
        s["connect_timeout_s"] = 2;
        s["request_timeout_s"] = 5;
        return s;
    }

    /// Writes a config with `source` and `rigs`, logging at debug level to
    /// the harness's log, and mounts. Use with ASSERT_NO_FATAL_FAILURE.
    void start_daemon(const Json::Value& source, const Json::Value& rigs,
                      const Json::Value& refresh = Json::Value(Json::objectValue)) {
        Json::Value cfg;
        cfg["source"] = source;
        cfg["rigs"] = rigs;
        cfg["refresh"] = refresh;
        cfg["refresh"]["backoff_initial_s"] = 0.2;
        cfg["refresh"]["backoff_max_s"] = 1;
        cfg["refresh"]["jitter_s"] = 0;
        cfg["log"]["level"] = "debug";
        cfg["log"]["file"] = harness_.log_path();
        write_file(harness_.config_path(), Json::writeString(Json::StreamWriterBuilder(), cfg),
                   0600);
        started_ = true;
        ASSERT_TRUE(harness_.start());
    }

    static Json::Value rigs(std::initializer_list<const char*> ids) {
        Json::Value list(Json::arrayValue);
        for (const char* id : ids) {
            Json::Value r;
            r["id"] = id;
            list.append(r);
        }
        return list;
    }

    // Declared before the harness so the daemon is stopped first and never
    // sees its upstream vanish during teardown.
    std::unique_ptr<fakes::FakeGitHub> github_;
    DaemonHarness harness_;
    std::string key_path_;
    bool started_ = false;
};

TEST_F(SourcesTest, GitHubAppRigsOfOneInstallationShareOneToken) {
    ASSERT_NO_FATAL_FAILURE(start_fake_github());
    ASSERT_NO_FATAL_FAILURE(start_daemon(github_app_source(), rigs({"a", "b"})));

    const std::string a = git_password("a");
    const std::string b = git_password("b");
    EXPECT_TRUE(github_->is_valid(a)) << "a got \"" << a << "\"";
    EXPECT_EQ(a, b);
    EXPECT_EQ(github_->calls(), 1) << "rigs with one installation and scope share one token";
    EXPECT_EQ(github_->tokens_minted(), 1);
    for (const auto& r : github_->requests()) {
        EXPECT_EQ(r.installation_id, kInstallation);
        EXPECT_EQ(r.status, 201) << r.message;
    }
}

TEST_F(SourcesTest, GitHubAppCorrectsForTheServersClock) {
    ASSERT_NO_FATAL_FAILURE(start_fake_github());
    // GitHub's clock 10 minutes behind ours: the daemon's iat (now - 60 s)
    // lies in GitHub's future, and only the Date header tells by how much.
    github_->set_clock_offset(-600);
    ASSERT_NO_FATAL_FAILURE(start_daemon(github_app_source(), rigs({"a"})));

    const std::string a = git_password("a");
    EXPECT_TRUE(github_->is_valid(a)) << "a got \"" << a << "\"";
    const auto requests = github_->requests();
    ASSERT_GE(requests.size(), 2u) << "the first JWT should have been refused as skewed";
    EXPECT_EQ(requests.front().status, 401);
    EXPECT_NE(requests.front().message.find("'Issued at' claim"), std::string::npos)
        << requests.front().message;
    EXPECT_EQ(requests.back().status, 201) << requests.back().message;
}

// GitHub states expires_at on its own clock. With GitHub's clock 15 minutes
// ahead (the daemon's first JWT is refused as expired, so it measures the
// skew) a token that truly lives 5 s looks to the daemon as if it lived 905 s
// unless the expiry is read on GitHub's clock too.
TEST_F(SourcesTest, GitHubAppReadsTheExpiryOnTheServersClock) {
    ASSERT_NO_FATAL_FAILURE(start_fake_github());
    github_->set_clock_offset(900);
    github_->set_ttl(5);
    ASSERT_NO_FATAL_FAILURE(start_daemon(github_app_source(), rigs({"a"})));

    const std::string first = git_password("a");
    ASSERT_TRUE(github_->is_valid(first)) << "a got \"" << first << "\"";
    ASSERT_TRUE(wait_until([&] { return !github_->is_valid(first); }, 20s, 100ms));
    const std::string later = git_password("a");
    EXPECT_TRUE(github_->is_valid(later))
        << (later == first ? "still serving the expired first token" : "served \"" + later + "\"");
}

TEST_F(SourcesTest, GitHubAppSendsTheRigsScope) {
    ASSERT_NO_FATAL_FAILURE(start_fake_github());
    Json::Value list = rigs({"a"});
    list[0]["repositories"].append("widgets");
    list[0]["permissions"]["contents"] = "write";
    ASSERT_NO_FATAL_FAILURE(start_daemon(github_app_source(), list));

    EXPECT_TRUE(github_->is_valid(git_password("a")));
    Json::Value body;
    std::istringstream in(github_->last_body());
    ASSERT_TRUE(Json::parseFromStream(Json::CharReaderBuilder(), in, &body, nullptr))
        << github_->last_body();
    EXPECT_EQ(body["repositories"][0].asString(), "widgets") << github_->last_body();
    EXPECT_EQ(body["permissions"]["contents"].asString(), "write") << github_->last_body();
}

// The fake must refuse what GitHub refuses, or the tests above prove nothing:
// a JWT signed with a key GitHub does not know, and an unknown installation.
TEST_F(SourcesTest, GitHubAppRefusalsAreLoggedWithWhatToCheck) {
    ASSERT_NO_FATAL_FAILURE(start_fake_github());
    Json::Value source = github_app_source();
    const std::string other_key = harness_.root() + "/other.pem";
    const ProcessResult r = run_process({"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                                         "rsa_keygen_bits:2048", "-out", other_key},
                                        "", 60s);
    ASSERT_EQ(r.exit_code, 0) << "openssl genpkey failed: " << r.error;
    source["private_key_file"] = other_key;
    Json::Value list = rigs({"a", "b"});
    list[1]["source"] = github_app_source();
    list[1]["source"]["installation_id"] = 7;
    ASSERT_NO_FATAL_FAILURE(start_daemon(source, list));

    auto logged = [&](const char* what) {
        return harness_.log_text().find(what) != std::string::npos;
    };
    EXPECT_TRUE(wait_until([&] { return logged("the app JWT was refused"); }, 20s));
    EXPECT_TRUE(wait_until([&] { return logged("installation suspended"); }, 20s));
    EXPECT_EQ(github_->tokens_minted(), 0);
    EXPECT_TRUE(harness_.alive());
}

/// Short-lived tokens renewed at half their life: a rotation every few seconds.
Json::Value quick_refresh() {
    Json::Value r;
    r["margin_s"] = 3;
    r["min_ttl_s"] = 1;
    return r;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// docs/design.md, rotation timeline: a replaced token is revoked once unused
// for revoke_after_s (1 s here); the served one, and the one in the fallback
// file, never are, not even at SIGTERM.
TEST_F(SourcesTest, GitHubAppRevokesReplacedTokensButNeverTheServedOne) {
    ASSERT_NO_FATAL_FAILURE(start_fake_github());
    github_->set_ttl(6);
    Json::Value source = github_app_source();
    source["revoke_after_s"] = 1;
    // A lag erase may serve the replaced token again until its successor is
    // publish_delay_s + 10 s old: longer than these 6-s tokens live. Without
    // the delay (and so the lag rule) a replaced token is out of use at once.
    Json::Value refresh = quick_refresh();
    refresh["publish_delay_s"] = 0;
    ASSERT_NO_FATAL_FAILURE(start_daemon(source, rigs({"a"}), refresh));

    const std::string first = git_password("a");
    ASSERT_TRUE(github_->is_valid(first)) << "a got \"" << first << "\"";
    auto revoked = [&](const std::string& token) {
        const auto r = github_->revoked();
        return std::find(r.begin(), r.end(), token) != r.end();
    };
    ASSERT_TRUE(wait_until([&] { return revoked(first); }, 30s)) << harness_.diagnostics();
    // Whatever is served now was never revoked, however many rotations passed.
    for (int i = 0; i < 3; ++i) {
        const std::string now_served = git_password("a");
        EXPECT_FALSE(revoked(now_served));
        EXPECT_TRUE(github_->is_valid(now_served));
    }
    const std::string metrics = read_text(harness_.file(".metrics"));
    EXPECT_NE(metrics.find("gastown_credfs_revocations_total{outcome=\"revoked\"} "),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("gastown_credfs_github_rate_limit_remaining{installation=\"42\"} 5000"),
              std::string::npos)
        << metrics;
    EXPECT_EQ(metrics.find("ghs_"), std::string::npos) << "never a token";

    harness_.stop();
    EXPECT_EQ(harness_.exit_status(), 0);
    const auto in_file = token_from_line(read_text(harness_.file("a")));
    ASSERT_TRUE(in_file) << "the fallback file holds one credential line";
    EXPECT_FALSE(revoked(*in_file)) << "the token left in the fallback file stays valid";
    EXPECT_EQ(harness_.log_text().find(*in_file), std::string::npos);
}

TEST_F(SourcesTest, GitHubAppDiscoversItsInstallationAndAgainAfterAReinstall) {
    ASSERT_NO_FATAL_FAILURE(start_fake_github());
    github_->set_ttl(6);
    github_->set_discovery("repos/acme/widgets", kInstallation);
    github_->set_rate_limit(5000, 4321, 1900000000);
    Json::Value source = github_app_source();
    source.removeMember("installation_id");
    source["installation"]["repository"] = "acme/widgets";
    ASSERT_NO_FATAL_FAILURE(start_daemon(source, rigs({"a"}), quick_refresh()));

    EXPECT_TRUE(github_->is_valid(git_password("a")));
    EXPECT_EQ(github_->discoveries(), std::vector<std::string>{"repos/acme/widgets"});
    const std::string status = read_text(harness_.file(".status"));
    EXPECT_NE(status.find("\"remaining\" : 4321"), std::string::npos) << status;
    const ProcessResult cli =
        run_process({CREDFS_BINARY, "status", harness_.mountpoint()}, "", 20s);
    EXPECT_NE(cli.output.find("github installation 42: rate limit 4321/5000"), std::string::npos)
        << cli.output << cli.error;

    // The App is reinstalled: 42 is gone, the repository is now 43.
    github_->set_discovery("repos/acme/widgets", 43);
    github_->set_installations({43});
    auto minted_for_43 = [&] {
        for (const auto& r : github_->requests()) {
            if (r.installation_id == 43 && r.status == 201) return true;
        }
        return false;
    };
    ASSERT_TRUE(wait_until(minted_for_43, 30s)) << harness_.diagnostics();
    EXPECT_EQ(github_->discoveries().size(), 2u) << "one more discovery, after the 404";
    EXPECT_TRUE(github_->is_valid(git_password("a")));
    EXPECT_NE(harness_.log_text().find("repository acme/widgets is installation 43 (was 42"),
              std::string::npos);
}

TEST_F(SourcesTest, ExecServesTheCommandsTokenPerRig) {
    const std::string script = harness_.root() + "/mint-token";
    // No expires_at: the daemon assumes refresh.assumed_ttl_s.
    write_file(script,
               "#!/bin/sh\n"
               "printf '{\"token\": \"ghs_exec_%s\"}\\n' \"$CREDFS_RIG_ID\"\n",
               0755);
    Json::Value source;
    source["type"] = "exec";
    source["command"].append(script);
    ASSERT_NO_FATAL_FAILURE(start_daemon(source, rigs({"a", "b"})));

    EXPECT_EQ(git_password("a"), "ghs_exec_a");
    EXPECT_EQ(git_password("b"), "ghs_exec_b");
}

// The exec plugin is handed no token: not the one it minted last time, in
// its argv or its environment (issue #7). The plugin records its own
// /proc/self/cmdline and environ on every run and mints 3 s tokens, so it
// runs several times while a token is current.
TEST_F(SourcesTest, TheExecPluginSeesNoTokenInItsArgvOrEnvironment) {
    const std::string dir = harness_.root();
    std::string body = R"(#!/bin/sh
n=$(( $(cat @DIR@/count 2>/dev/null || echo 0) + 1 ))
echo $n > @DIR@/count
tr '\0' '\n' < /proc/$$/cmdline >> @DIR@/seen
tr '\0' '\n' < /proc/$$/environ >> @DIR@/seen
tok=ghs_exec_${CREDFS_RIG_ID}_$n
echo $tok >> @DIR@/printed
printf '{"token": "%s", "expires_at": %d}\n' $tok $(( $(date +%s) + 3 ))
)";
    for (size_t at; (at = body.find("@DIR@")) != std::string::npos;) body.replace(at, 5, dir);
    write_file(dir + "/mint-token", body, 0755);
    Json::Value source;
    source["type"] = "exec";
    source["command"].append(dir + "/mint-token");
    ASSERT_NO_FATAL_FAILURE(start_daemon(source, rigs({"a"})));
    auto printed_tokens = [&] {
        std::ifstream in(dir + "/printed");
        std::vector<std::string> tokens;
        for (std::string line; std::getline(in, line);) tokens.push_back(line);
        return tokens;
    };
    // The plugin prints its token last: three lines, three whole runs.
    ASSERT_TRUE(wait_until([&] { return printed_tokens().size() >= 3; }, 30s))
        << harness_.diagnostics();
    std::ifstream seen_file(dir + "/seen");
    const std::string seen((std::istreambuf_iterator<char>(seen_file)), {});
    ASSERT_NE(seen.find("CREDFS_RIG_ID=a"), std::string::npos) << "the dump did not work";
    for (const auto& token : printed_tokens()) {
        EXPECT_EQ(seen.find(token), std::string::npos) << "a minted token reached the plugin";
    }
    EXPECT_EQ(seen.find("ghs_"), std::string::npos);
}

TEST_F(SourcesTest, StaticPatRotatesWithoutRestart) {
    const std::string pat_file = harness_.root() + "/pat";
    const std::string old_pat = "ghp_" + std::string(36, 'o');
    const std::string new_pat = "github_pat_" + std::string(22, 'N') + "_" + std::string(59, 'n');
    write_file(pat_file, old_pat + "\n", 0600);
    Json::Value source;
    source["type"] = "static";
    source["token_file"] = pat_file;
    ASSERT_NO_FATAL_FAILURE(start_daemon(source, rigs({"a"})));
    ASSERT_EQ(git_password("a"), old_pat);

    // Rewritten in place, as `echo NEW > pat` would: the daemon may catch it
    // half-written, and must then keep the old PAT until it reads the new one.
    write_file(pat_file, new_pat + "\n", 0600);
    std::string seen;
    EXPECT_TRUE(wait_until([&] { return (seen = git_password("a")) == new_pat; }, 20s, 200ms))
        << "still serving \"" << seen << "\"";
    EXPECT_TRUE(harness_.alive());
}

TEST_F(SourcesTest, ARigMayOverrideTheTopLevelSource) {
    ASSERT_NO_FATAL_FAILURE(start_fake_github());
    const std::string pat_file = harness_.root() + "/pat";
    const std::string pat = "ghp_" + std::string(36, 'p');
    write_file(pat_file, pat + "\n", 0600);
    Json::Value list = rigs({"a", "b"});
    list[1]["source"]["type"] = "static";
    list[1]["source"]["token_file"] = pat_file;
    ASSERT_NO_FATAL_FAILURE(start_daemon(github_app_source(), list));

    const std::string a = git_password("a");
    EXPECT_TRUE(github_->is_valid(a)) << "a got \"" << a << "\"";
    EXPECT_EQ(git_password("b"), pat);
    EXPECT_EQ(github_->calls(), 1) << "only rig a is on the App";
}

}  // namespace
}  // namespace credfs::itest
