// check_sources: one fetch per rig through the daemon's own rig building,
// without a backing directory. Static and exec sources need no network.
#include "credfs/cli/cli_check.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_support.hpp"

namespace credfs {
namespace {

class CliCheckTest : public ::testing::Test {
  protected:
    Config config(const std::string& json) {
        return parse_config(
            json, [](const std::string&) { return std::nullopt; }, tmp_.path());
    }
    test::TempDir tmp_;
    SystemClock clock_;
};

TEST_F(CliCheckTest, PerRigSourcesOverrideAndFailuresNameTheirReason) {
    std::ofstream(tmp_.path() + "/pat") << "ghp_check_secret\n";
    const Config c = config(R"({
        "source": {"type": "exec", "command": ["/bin/sh", "-c", "echo boom >&2; exit 3"]},
        "rigs": [{"id": "bad"},
                 {"id": "good", "file": "g", "source": {"type": "static", "token_file": "pat"}}]})");
    const auto checks = check_sources(c, clock_);
    ASSERT_EQ(checks.size(), 2u);
    EXPECT_EQ(checks[0].file, "bad");
    EXPECT_FALSE(checks[0].ok);
    EXPECT_NE(checks[0].detail.find("bad"), std::string::npos) << checks[0].detail;
    EXPECT_FALSE(checks[0].detail.empty());
    EXPECT_EQ(checks[1].file, "g");
    EXPECT_TRUE(checks[1].ok) << checks[1].detail;
    EXPECT_EQ(checks[1].detail, "token does not expire (static)");
    EXPECT_EQ(rig_checks_exit_code(checks), 1);
    const std::string text = format_rig_checks(checks);
    EXPECT_EQ(text.find("ghp_check_secret"), std::string::npos);
    EXPECT_EQ(text.substr(0, 10), "FAIL bad  ");
    EXPECT_NE(text.find("\nOK   g    token does not expire (static)\n"), std::string::npos) << text;
    // Nothing was written beside the config (no backing directory).
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tmp_.path()),
                            std::filesystem::directory_iterator()),
              1);
}

TEST_F(CliCheckTest, ExpiringTokenReportsItsLife) {
    const Config c = config(R"({
        "source": {"type": "exec", "command": ["/bin/sh", "-c",
                   "echo '{\"token\": \"ghs_exec_secret\", \"expires_at\": '$(( $(date +%s) + 3600 ))'}'"]},
        "rigs": [{"id": "r"}]})");
    const auto checks = check_sources(c, clock_);
    ASSERT_EQ(checks.size(), 1u);
    EXPECT_TRUE(checks[0].ok) << checks[0].detail;
    EXPECT_TRUE(checks[0].detail.starts_with("token valid for 59m ") ||
                checks[0].detail.starts_with("token valid for 1h 00m"))
        << checks[0].detail;
    EXPECT_EQ(rig_checks_exit_code(checks), 0);
    EXPECT_EQ(format_rig_checks(checks).find("ghs_exec_secret"), std::string::npos);
}

TEST_F(CliCheckTest, NoChecksIsAFailure) { EXPECT_EQ(rig_checks_exit_code({}), 1); }

}  // namespace
}  // namespace credfs
