// The CLI's contract without a mount: bad input gets one line and exit 2.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

struct CliRun {
    int status = -1;
    std::string output;  // stdout + stderr
};

CliRun run(const std::string& args) {
    CliRun r;
    const std::string cmd = std::string(CREDFS_BINARY) + " " + args + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return r;
    std::array<char, 4096> buf{};
    size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
    const int ws = ::pclose(p);
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    return r;
}

bool is_mounted(const std::string& dir) {
    std::ifstream mounts("/proc/self/mountinfo");
    std::string line;
    while (std::getline(mounts, line)) {
        if (line.find(" " + dir + " ") != std::string::npos) return true;
    }
    return false;
}

class CliTest : public ::testing::Test {
  protected:
    void SetUp() override {
        mnt_ = dir_ + "/mnt";
        std::filesystem::create_directory(mnt_);
    }
    std::string config(const std::string& json) {
        const std::string path = dir_ + "/config.json";
        std::ofstream(path) << json;
        return path;
    }
    credfs::test::TempDir tmp_;
    std::string dir_ = tmp_.path();
    std::string mnt_;
};

TEST_F(CliTest, HelpAndVersion) {
    CliRun help = run("--help");
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(
        help.output.find("Usage: gastown-credfs --config FILE [-f] [--require-mount] MOUNTPOINT"),
        std::string::npos);
    for (const char* line :
         {"gastown-credfs --config FILE [-f] --files DIR",
          "gastown-credfs status [--json] [MOUNTPOINT]", "gastown-credfs check --config FILE",
          "gastown-credfs doctor [--repo DIR] [--host HOST] [MOUNTPOINT]"}) {
        EXPECT_NE(help.output.find(line), std::string::npos) << line;
    }
    EXPECT_EQ(run("status --help").status, 0);
    EXPECT_EQ(run("check --help").status, 0);
    EXPECT_EQ(run("doctor --help").status, 0);
    CliRun version = run("--version");
    EXPECT_EQ(version.status, 0);
    EXPECT_EQ(version.output.rfind("gastown-credfs ", 0), 0u);
}

TEST_F(CliTest, BadCommandLinesExit2) {
    EXPECT_EQ(run(mnt_).status, 2);
    EXPECT_EQ(run("--config").status, 2);
    EXPECT_EQ(run("--bogus " + mnt_).status, 2);
    EXPECT_EQ(run("--config x").status, 2);
    const CliRun both = run("--config x --files " + mnt_ + " --require-mount");
    EXPECT_EQ(both.status, 2);
    EXPECT_NE(both.output.find("--files and --require-mount exclude each other"), std::string::npos)
        << both.output;
    const CliRun extra = run("--config x --files " + mnt_ + " " + mnt_);
    EXPECT_EQ(extra.status, 2);
    EXPECT_NE(extra.output.find("--files DIR takes no MOUNTPOINT"), std::string::npos)
        << extra.output;
}

TEST_F(CliTest, BadConfigIsOneLineExit2AndNothingMounted) {
    const std::string cfg = config(R"({"source": {"type": "vault"}, "rigs": [{"id": "r"}]})");
    CliRun r = run("--config " + cfg + " -f " + mnt_);
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.output, "gastown-credfs: config " + cfg +
                            ": source.type: unknown source type \"vault\" (expected gastown, "
                            "github_app, static or exec)\n");
    EXPECT_FALSE(is_mounted(mnt_));
}

TEST_F(CliTest, MissingConfigFileExit2) {
    CliRun r = run("--config " + dir_ + "/absent.json " + mnt_);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("cannot read"), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1);
}

TEST_F(CliTest, StartupErrorsReachTheTerminalEvenWithALogFile) {
    std::ofstream(dir_ + "/pat") << "ghp_x\n";
    const std::string cfg = config(R"({"source": {"type": "static", "token_file": "pat"},
        "rigs": [{"id": "r"}], "log": {"file": "d.log"}})");
    CliRun r = run("--config " + cfg + " -f " + dir_ + "/absent");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find("mountpoint " + dir_ + "/absent: No such file or directory"),
              std::string::npos)
        << r.output;
}

TEST_F(CliTest, SubcommandUsageErrorsExit2) {
    for (const std::string& args : std::vector<std::string>{
             "status " + mnt_ + " " + mnt_, "status --bogus", "status -x " + mnt_, "check",
             "check --config", "check --config x " + mnt_, "check --bogus", "doctor --repo",
             "doctor " + mnt_ + " " + mnt_, "doctor --bogus", "doctor --host",
             "doctor --host https://github.com"}) {
        CliRun r = run(args);
        EXPECT_EQ(r.status, 2) << args << ": " << r.output;
        EXPECT_NE(r.output.find("Try 'gastown-credfs --help'"), std::string::npos) << args;
    }
}

TEST_F(CliTest, CheckWithABadConfigIsTheDaemonsLineAndExit2) {
    const std::string cfg = config(R"({"source": {"type": "vault"}, "rigs": [{"id": "r"}]})");
    CliRun r = run("check --config " + cfg);
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.output, "gastown-credfs: config " + cfg +
                            ": source.type: unknown source type \"vault\" (expected gastown, "
                            "github_app, static or exec)\n");
}

TEST_F(CliTest, StatusOnWhatIsNoMountIsOneLineExit1) {
    CliRun plain = run("status " + mnt_);
    EXPECT_EQ(plain.status, 1);
    EXPECT_EQ(plain.output.find("gastown-credfs: " + mnt_ + ": not a gastown-credfs mount"), 0u)
        << plain.output;
    EXPECT_EQ(std::count(plain.output.begin(), plain.output.end(), '\n'), 1);
    CliRun missing = run("status --json " + dir_ + "/absent");
    EXPECT_EQ(missing.status, 1);
    EXPECT_EQ(missing.output, "gastown-credfs: " + dir_ + "/absent: no such directory\n");
}

TEST_F(CliTest, OptionsMayFollowTheMountpoint) {
    CliRun r = run(mnt_ + " --version");
    EXPECT_EQ(r.status, 0) << r.output;
}

}  // namespace
