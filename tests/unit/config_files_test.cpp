// The files a config names are checked where they are used, with the same
// one-line errors the parser gave when it still opened them.
#include "credfs/sources/config_files.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "test_support.hpp"

namespace credfs {
namespace {

class ConfigFilesTest : public ::testing::Test {
  protected:
    void SetUp() override {
        jwt_file_ = dir_ + "/jwt";
        std::ofstream(jwt_file_) << "eyJ.header.sig\n";
    }
    std::string gastown(const std::string& extra = "",
                        const std::string& rigs = R"([{"id": "r1"}])") {
        return test::gastown_config_json(jwt_file_, extra, rigs);
    }
    /// What the daemon says of `json` at start: the parser's error, else the
    /// file check's, else "(accepted)".
    std::string error_of(const std::string& json) {
        try {
            check_config_files(parse_config(
                json, [](const std::string&) { return std::nullopt; }, dir_));
        } catch (const ConfigError& e) {
            return e.what();
        }
        return "(accepted)";
    }

    test::TempDir tmp_;
    std::string dir_ = tmp_.path();
    std::string jwt_file_;
};

TEST_F(ConfigFilesTest, AcceptsFilesThatAreThere) {
    EXPECT_EQ(error_of(gastown()), "(accepted)");
    std::ofstream(dir_ + "/pat") << "ghp_x\n";
    EXPECT_EQ(error_of(R"({"source": {"type": "static", "token_file": "pat"},
                          "rigs": [{"id": "r"}], "log": {"file": "d.log"}})"),
              "(accepted)");
    EXPECT_EQ(error_of(R"({"source": {"type": "exec", "command": ["sh", "-c", "x"]},
                          "rigs": [{"id": "r"}]})"),
              "(accepted)")
        << "a bare name is looked up on PATH when it runs";
}

TEST_F(ConfigFilesTest, RefusesACommandThatIsNotExecutable) {
    EXPECT_EQ(error_of(R"({"source": {"type": "exec", "command": ["/nonexistent/prog"]},
                          "rigs": [{"id": "r"}]})"),
              "source.command[0]: \"/nonexistent/prog\" is not an executable file");
    EXPECT_EQ(error_of(R"({"source": {"type": "exec", "command": [")" + dir_ +
                       R"("]}, "rigs": [{"id": "r"}]})"),
              "source.command[0]: \"" + dir_ + "\" is not an executable file");
}

TEST_F(ConfigFilesTest, RefusesUnreadableTokenFiles) {
    EXPECT_EQ(error_of(R"({"source": {"type": "static", "token_file": "/nonexistent/pat"},
                          "rigs": [{"id": "r"}]})"),
              "source.token_file: cannot read \"/nonexistent/pat\"");
    EXPECT_EQ(error_of(R"({"source": {"type": "gastown", "api_url": "http://x", "town_id": "t",
                    "container_token_file": "/nonexistent/jwt"}, "rigs": [{"id": "r"}]})"),
              "source.container_token_file: cannot read \"/nonexistent/jwt\"");
}

TEST_F(ConfigFilesTest, RefusesEmptyOrDirectorySecretFiles) {
    std::ofstream(dir_ + "/empty") << " \n";
    EXPECT_EQ(error_of(R"({"source": {"type": "static", "token_file": ")" + dir_ +
                       R"(/empty"}, "rigs": [{"id": "r"}]})"),
              "source.token_file: \"" + dir_ + "/empty\" is empty");
    EXPECT_EQ(error_of(R"({"source": {"type": "static", "token_file": ")" + dir_ +
                       R"("}, "rigs": [{"id": "r"}]})"),
              "source.token_file: \"" + dir_ + "\" is a directory");
    // The whole config is validated before any file is looked at.
    EXPECT_EQ(error_of(R"({"source": {"type": "static", "token_file": "empty"},
                          "rigs": [{"id": "r"}], "refresh": {"margin": 1}})"),
              "refresh.margin: unknown key");
}

TEST_F(ConfigFilesTest, RefusesAKeyThatIsNotPem) {
    std::ofstream(dir_ + "/bad.pem") << "not a key\n";
    EXPECT_EQ(error_of(R"({"source": {"type": "github_app", "app_id": 1, "installation_id": 2,
                          "private_key_file": "bad.pem"}, "rigs": [{"id": "r"}]})"),
              "source.private_key_file: \"" + dir_ +
                  "/bad.pem\" is not a PEM private key (PKCS#1 or PKCS#8)");
    EXPECT_EQ(error_of(R"({"source": {"type": "github_app", "app_id": 1, "installation_id": 2,
                          "private_key_file": "absent.pem"}, "rigs": [{"id": "r"}]})"),
              "source.private_key_file: cannot read \"" + dir_ + "/absent.pem\"");
}

TEST_F(ConfigFilesTest, ARigsOwnSourceErrorsNameTheRig) {
    EXPECT_EQ(error_of(gastown("", R"([{"id": "a"}, {"id": "b", "source": {"type": "static",
                                        "token_file": "absent"}}])")),
              "rigs[1].source.token_file: cannot read \"" + dir_ + "/absent\"");
}

TEST_F(ConfigFilesTest, LogFileNeedsAnExistingDirectory) {
    EXPECT_EQ(error_of(gastown(R"(, "log": {"file": "/nonexistent-credfs-dir/x.log"})")),
              "log.file: directory \"/nonexistent-credfs-dir\" does not exist");
    EXPECT_FALSE(std::filesystem::exists("/nonexistent-credfs-dir"));
    EXPECT_EQ(error_of(gastown(R"(, "log": {"file": ")" + dir_ + R"("})")),
              "log.file: \"" + dir_ + "\" is a directory");
}

}  // namespace
}  // namespace credfs
