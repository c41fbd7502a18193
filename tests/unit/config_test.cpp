#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "credfs/core/config.hpp"
#include "credfs/core/refresh_policy.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

class ConfigTest : public ::testing::Test {
  protected:
    void SetUp() override {
        jwt_file_ = dir_ + "/jwt";
        std::ofstream(jwt_file_) << "eyJ.header.sig\n";
    }

    EnvLookup env() const {
        return [this](const std::string& name) -> std::optional<std::string> {
            auto it = env_.find(name);
            if (it == env_.end()) return std::nullopt;
            return it->second;
        };
    }
    std::string gastown(const std::string& extra = "",
                        const std::string& rigs = R"([{"id": "r1"}])") {
        return test::gastown_config_json(jwt_file_, extra, rigs);
    }
    std::string error_of(const std::string& json) {
        try {
            parse_config(json, env());
        } catch (const ConfigError& e) {
            return e.what();
        }
        return "(accepted)";
    }

    test::TempDir tmp_;
    std::string dir_ = tmp_.path();
    std::string jwt_file_;
    std::map<std::string, std::string> env_;
};

TEST_F(ConfigTest, DefaultsAndRigDefaults) {
    Config c = parse_config(gastown(), env());
    EXPECT_EQ(c.source.type, SourceConfig::Type::Gastown);
    EXPECT_EQ(c.source.api_url, "http://127.0.0.1:1");  // trailing slash dropped
    EXPECT_EQ(c.source.container_token_env, "GASTOWN_CONTAINER_TOKEN");
    EXPECT_DOUBLE_EQ(c.refresh.margin_s, 600);
    EXPECT_DOUBLE_EQ(c.refresh.min_ttl_s, 300);
    EXPECT_DOUBLE_EQ(c.refresh.jitter_s, 30);
    EXPECT_DOUBLE_EQ(c.refresh.read_timeout_s, 10);
    EXPECT_DOUBLE_EQ(c.refresh.backoff_initial_s, 0.5);
    EXPECT_DOUBLE_EQ(c.refresh.backoff_max_s, 60);
    EXPECT_DOUBLE_EQ(c.refresh.assumed_ttl_s, 1800);
    ASSERT_EQ(c.rigs.size(), 1u);
    EXPECT_EQ(c.rigs[0].file, "r1");
    EXPECT_EQ(c.rigs[0].host, "github.com");
    EXPECT_EQ(c.rigs[0].username, "x-access-token");
    EXPECT_EQ(c.log.level, "info");
    EXPECT_EQ(c.log.format, LogFormat::Plain);
}

TEST_F(ConfigTest, LogFormatIsPlainOrJson) {
    EXPECT_EQ(parse_config(gastown(R"(, "log": {"format": "json"})"), env()).log.format,
              LogFormat::Json);
    EXPECT_EQ(parse_config(gastown(R"(, "log": {"format": "plain"})"), env()).log.format,
              LogFormat::Plain);
    EXPECT_EQ(parse_config(gastown(R"(, "log": {"level": "debug"})"), env()).log.format,
              LogFormat::Plain);
    EXPECT_EQ(error_of(gastown(R"(, "log": {"format": "yaml"})")),
              "log.format: unknown format \"yaml\" (plain or json)");
    EXPECT_EQ(error_of(gastown(R"(, "log": {"format": "JSON"})")),
              "log.format: unknown format \"JSON\" (plain or json)");
    EXPECT_EQ(error_of(gastown(R"(, "log": {"format": 1})")), "log.format: must be a string");
}

TEST_F(ConfigTest, FractionalDurations) {
    Config c = parse_config(
        gastown(R"(, "refresh": {"margin_s": 1.5, "min_ttl_s": 0.25, "assumed_ttl_s": 3})"), env());
    EXPECT_DOUBLE_EQ(c.refresh.margin_s, 1.5);
    EXPECT_DOUBLE_EQ(c.refresh.min_ttl_s, 0.25);
}

TEST_F(ConfigTest, EnvFallbacksForGastown) {
    env_ = {{"GASTOWN_API_URL", "https://gt.example"},
            {"GASTOWN_TOWN_ID", "town9"},
            {"GASTOWN_CONTAINER_TOKEN", "eyJ.x.y"}};
    Config c = parse_config(R"({"source": {"type": "gastown"}, "rigs": [{"id": "r"}]})", env());
    EXPECT_EQ(c.source.api_url, "https://gt.example");
    EXPECT_EQ(c.source.town_id, "town9");
    EXPECT_TRUE(c.source.container_token_file.empty());
}

TEST_F(ConfigTest, RefusesUnknownSourceType) {
    EXPECT_EQ(error_of(R"({"source": {"type": "vault"}, "rigs": [{"id": "r"}]})"),
              "source.type: unknown source type \"vault\" (expected gastown, github_app, static or "
              "exec)");

    EXPECT_EQ(error_of(R"({"source": {"type": "exec", "command": []}, "rigs": [{"id": "r"}]})"),
              "source.command: must be a non-empty list: [\"/path/prog\", \"arg\", ...]");
    Config exec = parse_config(R"({"source": {"type": "exec", "command": ["sh", "-c", "x"],
                                  "timeout_s": 2.5}, "rigs": [{"id": "r"}]})",
                               env());
    EXPECT_EQ(exec.source.command, (std::vector<std::string>{"sh", "-c", "x"}));
    EXPECT_DOUBLE_EQ(exec.source.exec_timeout_s, 2.5);
}

TEST_F(ConfigTest, RefusesMissingRigId) {
    EXPECT_EQ(error_of(gastown("", R"([{"id": "a"}, {"file": "b"}])")), "rigs[1].id: missing");
}

TEST_F(ConfigTest, RefusesTwoRigsOnOneFile) {
    EXPECT_EQ(error_of(gastown("", R"([{"id": "a", "file": "f"}, {"id": "b", "file": "f"}])")),
              "rigs[1].file: \"f\" is already used by rig \"a\"");
    EXPECT_EQ(error_of(gastown("", R"([{"id": "a"}, {"id": "b", "file": "a"}])")),
              "rigs[1].file: \"a\" is already used by rig \"a\"");
}

TEST_F(ConfigTest, RefusesBadFileNames) {
    EXPECT_EQ(error_of(gastown("", R"([{"id": "a", "file": "x/y"}])")),
              "rigs[0].file: must not contain /");
    EXPECT_EQ(error_of(gastown("", R"([{"id": "a", "file": ".."}])")),
              "rigs[0].file: must not contain ..");
    EXPECT_EQ(error_of(gastown("", R"([{"id": "a", "file": "a..b"}])")),
              "rigs[0].file: must not contain ..");
    EXPECT_EQ(error_of(gastown("", R"([{"id": "a", "file": ")" + std::string(251, 'f') + R"("}])")),
              "rigs[0].file: longer than 250 bytes (git needs room for \".lock\")");
    EXPECT_EQ(error_of(gastown("", R"([{"id": "a", "file": ""}])")),
              "rigs[0].file: must not be empty");
    EXPECT_EQ(error_of(gastown("", R"([{"id": "a", "file": "x.lock"}])")),
              "rigs[0].file: must not end in .lock (git's lock-file suffix)");
    EXPECT_EQ(error_of(gastown("", R"([{"id": "a/b"}])")), "rigs[0].id: must not contain /");
}

TEST_F(ConfigTest, RefusesNegativeDurations) {
    for (const char* key : {"margin_s", "min_ttl_s", "jitter_s", "read_timeout_s",
                            "backoff_initial_s", "backoff_max_s", "assumed_ttl_s"}) {
        EXPECT_EQ(error_of(gastown(std::string(R"(, "refresh": {")") + key + R"(": -1})")),
                  std::string("refresh.") + key + ": must be a non-negative number of seconds");
    }
    EXPECT_EQ(error_of(gastown(R"(, "refresh": {"margin_s": "10"})")),
              "refresh.margin_s: must be a number of seconds");
}

TEST_F(ConfigTest, RefusesMinTtlNotBelowAssumedTtl) {
    EXPECT_EQ(error_of(gastown(R"(, "refresh": {"min_ttl_s": 300, "assumed_ttl_s": 300})")),
              "refresh.min_ttl_s: must be less than refresh.assumed_ttl_s (300 >= 300)");
}

TEST_F(ConfigTest, RefusesMissingContainerToken) {
    EXPECT_EQ(error_of(R"({"source": {"type": "gastown", "api_url": "http://x", "town_id": "t",
                          "container_token_env": "MY_JWT"}, "rigs": [{"id": "r"}]})"),
              "source.container_token_env: MY_JWT is not set and source.container_token_file is "
              "not given");
}

TEST_F(ConfigTest, RefusesMissingApiUrlAndTown) {
    EXPECT_EQ(error_of(R"({"source": {"type": "gastown"}, "rigs": [{"id": "r"}]})"),
              "source.api_url: missing (set it in the config or export GASTOWN_API_URL)");
    env_ = {{"GASTOWN_API_URL", "http://x"}};
    EXPECT_EQ(error_of(R"({"source": {"type": "gastown"}, "rigs": [{"id": "r"}]})"),
              "source.town_id: missing (set it in the config or export GASTOWN_TOWN_ID)");
}

TEST_F(ConfigTest, RefusesTyposAndBadJson) {
    EXPECT_EQ(error_of(gastown(R"(, "refresh": {"margin": 5})")), "refresh.margin: unknown key");
    EXPECT_EQ(error_of(gastown(R"(, "rig": [])")), "rig: unknown key");
    const std::string bad_json = error_of("{\"rigs\": [");
    EXPECT_EQ(bad_json.rfind("config: invalid JSON", 0), 0u) << bad_json;
    EXPECT_EQ(bad_json.find('\n'), std::string::npos) << bad_json;
    EXPECT_EQ(error_of(gastown("", "[]")), "rigs: must list at least one rig");
    EXPECT_EQ(error_of(gastown(R"(, "log": {"level": "loud"})")),
              "log.level: unknown level \"loud\" (trace, debug, info, warn, error, critical, off)");
}

TEST_F(ConfigTest, ErrorsAreOneLineAndNeverEchoTheToken) {
    env_ = {{"GASTOWN_API_URL", "http://x"},
            {"GASTOWN_TOWN_ID", "t"},
            {"GASTOWN_CONTAINER_TOKEN", "eyJsecret.jwt.value"}};
    const std::string e = error_of(R"({"source": {"type": "gastown"}, "rigs": [{"id": ""}]})");
    EXPECT_EQ(e, "rigs[0].id: missing");
    EXPECT_EQ(e.find("eyJsecret"), std::string::npos);
}

TEST_F(ConfigTest, RefusesOutOfRangeDurations) {
    EXPECT_EQ(
        error_of(gastown(R"(, "refresh": {"backoff_initial_s": 1e300, "backoff_max_s": 1e300})")),
        "refresh.backoff_initial_s: must be at most 10000000 seconds");
    EXPECT_EQ(error_of(gastown(R"(, "refresh": {"read_timeout_s": 1e300})")),
              "refresh.read_timeout_s: must be at most 10000000 seconds");
    EXPECT_EQ(error_of(gastown(R"(, "refresh": {"read_timeout_s": 0.0001})")),
              "refresh.read_timeout_s: must be at least 0.001 seconds");
    EXPECT_EQ(error_of(gastown(R"(, "refresh": {"backoff_initial_s": 0})")),
              "refresh.backoff_initial_s: must be at least 0.001 seconds");
}

TEST_F(ConfigTest, RefusesOutOfRangeSourceTimeouts) {
    const std::string src = R"({"source": {"type": "gastown", "api_url": "http://x", "town_id": "t",
        "container_token_file": ")" +
                            jwt_file_ + R"(", )";
    EXPECT_EQ(error_of(src + R"("request_timeout_s": 0.0001}, "rigs": [{"id": "r"}]})"),
              "source.request_timeout_s: must be at least 0.001 seconds");
    EXPECT_EQ(error_of(src + R"("connect_timeout_s": 1e300}, "rigs": [{"id": "r"}]})"),
              "source.connect_timeout_s: must be at most 10000000 seconds");
}

TEST_F(ConfigTest, RelativePathsResolveAgainstTheConfigDirectory) {
    std::ofstream(dir_ + "/pat") << "ghp_x\n";
    const std::string cfg_path = dir_ + "/c.json";
    std::ofstream(cfg_path) << R"({"source": {"type": "static", "token_file": "pat"},
                                  "rigs": [{"id": "r"}], "log": {"file": "d.log"}})";
    Config c = load_config(cfg_path, env());
    EXPECT_EQ(c.source.token_file, dir_ + "/pat");
    EXPECT_EQ(c.log.file, dir_ + "/d.log");
    Config g = parse_config(R"({"source": {"type": "gastown", "api_url": "http://x", "town_id": "t",
                                "container_token_file": "jwt"}, "rigs": [{"id": "r"}]})",
                            env(), dir_);
    EXPECT_EQ(g.source.container_token_file, jwt_file_);
}

TEST_F(ConfigTest, SocketIsOptionalAndResolvedAgainstTheConfigDirectory) {
    EXPECT_EQ(parse_config(gastown(), env()).socket, "");
    EXPECT_EQ(parse_config(gastown(R"(, "socket": "/run/creds.sock")"), env()).socket,
              "/run/creds.sock");
    EXPECT_EQ(parse_config(gastown(R"(, "socket": "s/creds.sock")"), env(), dir_).socket,
              dir_ + "/s/creds.sock");
    EXPECT_EQ(error_of(gastown(R"(, "socket": "")")),
              "socket: must not be empty (leave it out for <mountpoint>.sock)");
    EXPECT_EQ(error_of(gastown(R"(, "socket": 3)")), "socket: must be a string");
    EXPECT_EQ(error_of(gastown(R"(, "socket": "/run/")")),
              "socket: must name a file, not a directory");
    EXPECT_EQ(error_of(gastown(R"(, "socket": "/)" + std::string(120, 'x') + "\"")),
              "socket: path longer than 107 bytes (a Unix socket's limit)");
}

TEST_F(ConfigTest, RefusesEmptySecretFileKeys) {
    EXPECT_EQ(error_of(R"({"source": {"type": "gastown", "api_url": "http://x", "town_id": "t",
                          "container_token_file": ""}, "rigs": [{"id": "r"}]})"),
              "source.container_token_file: must not be empty");
    EXPECT_EQ(error_of(R"({"source": {"type": "gastown", "api_url": "http://x", "town_id": "t",
                          "container_token_env": ""}, "rigs": [{"id": "r"}]})"),
              "source.container_token_env: must not be empty");
}

TEST_F(ConfigTest, RefusesIdsThatWouldBreakTheUrl) {
    EXPECT_EQ(error_of(gastown("", R"([{"id": "..", "file": "f"}])")),
              "rigs[0].id: must not be . or ..");
    EXPECT_EQ(error_of(gastown("", R"([{"id": "a b", "file": "f"}])")),
              "rigs[0].id: must not contain spaces or control bytes");
    EXPECT_EQ(error_of(R"({"source": {"type": "gastown", "api_url": "http://x/a b", "town_id": "t",
                          "container_token_file": ")" +
                       jwt_file_ + R"("}, "rigs": [{"id": "r"}]})"),
              "source.api_url: must be a plain base URL (no spaces, query or fragment)");
    EXPECT_EQ(error_of(R"({"source": {"type": "gastown", "api_url": "http://x", "town_id": "..",
                          "container_token_file": ")" +
                       jwt_file_ + R"("}, "rigs": [{"id": "r"}]})"),
              "source.town_id: must not be . or ..");
}

TEST_F(ConfigTest, ConfigPathThatIsADirectory) {
    try {
        load_config(dir_, env());
        FAIL() << "accepted a directory";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()), "--config: \"" + dir_ + "\" is a directory");
    }
}

TEST_F(ConfigTest, RigProtocolAndRejectCooldown) {
    Config c = parse_config(gastown(R"(, "refresh": {"reject_cooldown_s": 2.5})",
                                    R"([{"id": "a"}, {"id": "b", "protocol": "http"}])"),
                            env());
    EXPECT_EQ(c.rigs[0].protocol, "https");
    EXPECT_EQ(c.rigs[1].protocol, "http");
    EXPECT_DOUBLE_EQ(c.refresh.reject_cooldown_s, 2.5);
    EXPECT_EQ(error_of(gastown("", R"([{"id": "a", "protocol": "ftp"}])")),
              "rigs[0].protocol: must be \"https\" or \"http\"");
}

TEST_F(ConfigTest, PublishDelayAndMandatoryWindow) {
    const Config defaults = parse_config(gastown(), env());
    EXPECT_DOUBLE_EQ(defaults.refresh.publish_delay_s, 5);
    EXPECT_DOUBLE_EQ(defaults.refresh.mandatory_s, 60);
    const Config set =
        parse_config(gastown(R"(, "refresh": {"publish_delay_s": 2.5, "mandatory_s": 30})"), env());
    EXPECT_DOUBLE_EQ(set.refresh.publish_delay_s, 2.5);
    EXPECT_DOUBLE_EQ(set.refresh.mandatory_s, 30);
    EXPECT_TRUE(set.warnings.empty());
    const Config off =
        parse_config(gastown(R"(, "refresh": {"publish_delay_s": 0, "mandatory_s": 0})"), env());
    EXPECT_DOUBLE_EQ(off.refresh.publish_delay_s, 0);
    EXPECT_DOUBLE_EQ(off.refresh.mandatory_s, 0);
    EXPECT_TRUE(off.warnings.empty());
    EXPECT_EQ(error_of(gastown(R"(, "refresh": {"publish_delay_s": -1})")),
              "refresh.publish_delay_s: must be a non-negative number of seconds");
    EXPECT_EQ(error_of(gastown(R"(, "refresh": {"mandatory_s": -0.5})")),
              "refresh.mandatory_s: must be a non-negative number of seconds");
    EXPECT_EQ(error_of(gastown(R"(, "refresh": {"publish_delay_s": "5"})")),
              "refresh.publish_delay_s: must be a number of seconds");
}

TEST_F(ConfigTest, MaxConcurrentRefreshesIsAnIntegerFromOneTo256) {
    EXPECT_EQ(parse_config(gastown(), env()).refresh.max_concurrent_refreshes, 8);
    EXPECT_EQ(parse_config(gastown(R"(, "refresh": {"max_concurrent_refreshes": 32})"), env())
                  .refresh.max_concurrent_refreshes,
              32);
    const std::string why = "refresh.max_concurrent_refreshes: must be an integer from 1 to 256";
    EXPECT_EQ(error_of(gastown(R"(, "refresh": {"max_concurrent_refreshes": 0})")), why);
    EXPECT_EQ(error_of(gastown(R"(, "refresh": {"max_concurrent_refreshes": 257})")), why);
    EXPECT_EQ(error_of(gastown(R"(, "refresh": {"max_concurrent_refreshes": 2.5})")), why);
    EXPECT_EQ(error_of(gastown(R"(, "refresh": {"max_concurrent_refreshes": "8"})")), why);
    EXPECT_EQ(error_of(gastown(R"(, "refresh": {"max_concurrent_refreshes": true})")), why);
}

TEST_F(ConfigTest, APublishDelayWithoutRoomShrinksWithOneWarning) {
    // Exactly margin_s - min_ttl_s: fits, no warning.
    const Config exact = parse_config(
        gastown(R"(, "refresh": {"margin_s": 15, "min_ttl_s": 10, "publish_delay_s": 5})"), env());
    EXPECT_TRUE(exact.warnings.empty());
    EXPECT_DOUBLE_EQ(effective_publish_delay_s(exact.refresh), 5);
    // Compressed time (a config that worked before the delay): it still
    // parses, the delay shrinks, and one line says so, naming both keys.
    const Config tight =
        parse_config(gastown(R"(, "refresh": {"margin_s": 5, "min_ttl_s": 3})"), env());
    EXPECT_DOUBLE_EQ(effective_publish_delay_s(tight.refresh), 2);
    ASSERT_EQ(tight.warnings.size(), 1u);
    EXPECT_EQ(tight.warnings[0],
              "refresh.publish_delay_s (5 s) does not fit in refresh.margin_s - "
              "refresh.min_ttl_s: new tokens are published after 2 s (lower "
              "refresh.publish_delay_s or raise refresh.margin_s to keep it)");
    const Config none =
        parse_config(gastown(R"(, "refresh": {"margin_s": 3, "min_ttl_s": 3})"), env());
    ASSERT_EQ(none.warnings.size(), 1u);
    EXPECT_NE(none.warnings[0].find("published after 0 s"), std::string::npos) << none.warnings[0];
}

TEST_F(ConfigTest, ARigMayOverrideTheSource) {
    std::ofstream(dir_ + "/pat") << "ghp_x\n";
    Config c = parse_config(gastown("", R"([{"id": "a"}, {"id": "b", "source": {"type": "static",
                                             "token_file": "pat"}}])"),
                            env(), dir_);
    EXPECT_FALSE(c.rigs[0].source);
    ASSERT_TRUE(c.rigs[1].source);
    EXPECT_EQ(c.rigs[1].source->type, SourceConfig::Type::Static);
    EXPECT_EQ(c.rigs[1].source->token_file, dir_ + "/pat");
    EXPECT_EQ(error_of(gastown("", R"([{"id": "a", "source": {"type": "static"}}])")),
              "rigs[0].source.token_file: missing");
}

TEST_F(ConfigTest, ParsingTouchesNoFile) {
    // Files are checked where they are used (config_files_test.cpp): the
    // parser accepts paths that do not exist and stores them resolved.
    Config stat = parse_config(R"({"source": {"type": "static", "token_file": "/nonexistent/pat"},
                                  "rigs": [{"id": "r"}], "log": {"file": "/nonexistent-d/x.log"}})",
                               env());
    EXPECT_EQ(stat.source.token_file, "/nonexistent/pat");
    EXPECT_EQ(stat.log.file, "/nonexistent-d/x.log");
    Config app = parse_config(R"({"source": {"type": "github_app", "app_id": 1,
                                 "installation_id": 2, "private_key_file": "key.pem"},
                                 "rigs": [{"id": "r"}]})",
                              env(), "/nonexistent");
    EXPECT_EQ(app.source.private_key_file, "/nonexistent/key.pem");
    Config exec = parse_config(R"({"source": {"type": "exec", "command": ["bin/prog"]},
                                  "rigs": [{"id": "r"}]})",
                               env(), "/nonexistent");
    EXPECT_EQ(exec.source.command[0], "/nonexistent/bin/prog");
}

TEST_F(ConfigTest, CrossFieldWarningsAreOneLineEach) {
    EXPECT_TRUE(parse_config(gastown(), env()).warnings.empty());
    const Config stale = parse_config(
        gastown(R"(, "refresh": {"margin_s": 100, "min_ttl_s": 200, "assumed_ttl_s": 3000})"),
        env());
    ASSERT_EQ(stale.warnings.size(), 1u);
    EXPECT_EQ(stale.warnings[0],
              "refresh.margin_s < refresh.min_ttl_s: tokens go stale before their background "
              "refresh, so reads will wait for on-demand refreshes");
    const Config slow = parse_config(gastown(R"(, "refresh": {"read_timeout_s": 8})"), env());
    ASSERT_EQ(slow.warnings.size(), 1u);
    EXPECT_EQ(slow.warnings[0],
              "source.request_timeout_s >= refresh.read_timeout_s: a read may give up before the "
              "request it waits for can fail or succeed");
    // Only the gastown source's request is what a read waits on here.
    std::ofstream(dir_ + "/pat") << "ghp_x\n";
    EXPECT_TRUE(parse_config(R"({"source": {"type": "static", "token_file": "pat"},
                                "refresh": {"read_timeout_s": 1}, "rigs": [{"id": "r"}]})",
                             env(), dir_)
                    .warnings.empty());
    for (const auto& w : stale.warnings) EXPECT_EQ(w.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace credfs

namespace credfs {
namespace {

std::string app_config(const std::string& installation, const std::string& extra = "") {
    return R"({"source": {"type": "github_app", "app_id": 1, "private_key_file": "/k.pem", )" +
           installation + extra + R"(}, "rigs": [{"id": "r"}]})";
}

TEST_F(ConfigTest, AnInstallationIsAnIdARepositoryOrAnOrganization) {
    EXPECT_EQ(parse_config(app_config(R"("installation": 42)"), env()).source.installation_id,
              "42");
    EXPECT_EQ(parse_config(app_config(R"("installation_id": "43")"), env()).source.installation_id,
              "43");
    const Config repo =
        parse_config(app_config(R"("installation": {"repository": "acme/widgets.js"})"), env());
    EXPECT_EQ(repo.source.installation_id, "");
    EXPECT_EQ(repo.source.installation_repository, "acme/widgets.js");
    const Config org = parse_config(app_config(R"("installation": {"org": "acme-inc"})"), env());
    EXPECT_EQ(org.source.installation_org, "acme-inc");
}

TEST_F(ConfigTest, RefusesBadInstallationsNamingTheKey) {
    const std::string forms =
        R"(must be a positive integer or {"repository": "owner/repo"} or {"org": "name"})";
    EXPECT_EQ(error_of(app_config(R"("installation": 0)")), "source.installation: " + forms);
    EXPECT_EQ(error_of(app_config(R"("installation": {"repo": "a/b"})")),
              "source.installation: " + forms);
    EXPECT_EQ(error_of(app_config(R"("installation": {"repository": "a/b", "org": "c"})")),
              "source.installation: " + forms);
    EXPECT_EQ(error_of(app_config(R"("installation": {"repository": "widgets"})")),
              R"(source.installation.repository: must be "owner/repo")");
    EXPECT_EQ(error_of(app_config(R"("installation": {"repository": "a/b/c"})")),
              R"(source.installation.repository: must be "owner/repo")");
    EXPECT_EQ(error_of(app_config(R"("installation": {"org": "../x"})")),
              "source.installation.org: must be an organization name");
    EXPECT_EQ(error_of(app_config(R"("installation": 1, "installation_id": 1)")),
              "source.installation: give either installation or installation_id, not both");
    EXPECT_EQ(error_of(app_config(R"("installation_id": {"org": "a"})")),
              "source.installation_id: must be a positive integer");
    EXPECT_EQ(error_of(app_config(R"("api_url": "http://x")")),
              "source.installation_id: must be a positive integer");
    // A rig's own source: the error names the rig.
    const std::string json =
        R"({"source": {"type": "static", "token_file": "/t"}, "rigs": [{"id": "a"}, {"id": "b"},
            {"id": "c", "source": {"type": "github_app", "app_id": 1, "private_key_file": "/k",
                                   "installation": "x"}}]})";
    EXPECT_EQ(error_of(json), "rigs[2].source.installation: " + forms);
}

TEST_F(ConfigTest, RevocationDefaultsOnForGitHubAppAndOptInForGastown) {
    const Config app = parse_config(app_config(R"("installation": 42)"), env());
    EXPECT_TRUE(app.source.revoke_superseded);
    EXPECT_EQ(app.source.revoke_after_s, 600);
    const Config off = parse_config(app_config(R"("installation": 42, "revoke_superseded": false,
                                   "revoke_after_s": 1.5)"),
                                    env());
    EXPECT_FALSE(off.source.revoke_superseded);
    EXPECT_EQ(off.source.revoke_after_s, 1.5);
    EXPECT_FALSE(parse_config(gastown(), env()).source.revoke_superseded);
    EXPECT_EQ(error_of(app_config(R"("installation": 42, "revoke_superseded": "yes")")),
              "source.revoke_superseded: must be true or false");
    const std::string jwt = jwt_file_;
    const auto gastown_with = [&jwt](const std::string& keys) {
        return R"({"source": {"type": "gastown", "api_url": "http://127.0.0.1:1", "town_id": "t",
                  "container_token_file": ")" +
               jwt + "\"" + keys + R"(}, "rigs": [{"id": "r"}]})";
    };
    EXPECT_EQ(error_of(gastown_with(R"(, "revoke_superseded": true)")),
              "source.revoke_superseded: true needs source.github_api_url (where GitHub revokes "
              "the control plane's tokens, e.g. \"https://api.github.com\")");
    const Config opted = parse_config(
        gastown_with(R"(, "revoke_superseded": true, "github_api_url": "https://api.github.com/")"),
        env());
    EXPECT_TRUE(opted.source.revoke_superseded);
    EXPECT_EQ(opted.source.github_api_url, "https://api.github.com");
    EXPECT_EQ(error_of(gastown_with(R"(, "github_api_url": "ftp://x")")),
              "source.github_api_url: must start with http:// or https://");
}

}  // namespace
}  // namespace credfs
