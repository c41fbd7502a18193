// The doctor's checks, from canned git output and files in a temp dir.
#include "credfs/cli/doctor.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "test_support.hpp"

namespace credfs {
namespace {

CommandOutput git_said(int exit_code, std::string out, std::string err = "") {
    CommandOutput o;
    o.exit_code = exit_code;
    o.out = std::move(out);
    o.err = std::move(err);
    return o;
}

class DoctorTest : public ::testing::Test {
  protected:
    void SetUp() override {
        mnt_ = tmp_.path() + "/mnt";
        std::filesystem::create_directory(mnt_);
        std::ofstream(mnt_ + "/rig-a") << "";
    }
    test::TempDir tmp_;
    std::string mnt_;
};

TEST_F(DoctorTest, FormatAndExitCode) {
    EXPECT_EQ(format_check({CheckLevel::Ok, "fine"}), "OK   fine\n");
    EXPECT_EQ(format_check({CheckLevel::Warn, "hmm"}), "WARN hmm\n");
    EXPECT_EQ(format_check({CheckLevel::Fail, "bad"}), "FAIL bad\n");
    EXPECT_EQ(doctor_exit_code({{CheckLevel::Ok, ""}, {CheckLevel::Warn, ""}}), 0);
    EXPECT_EQ(doctor_exit_code({{CheckLevel::Ok, ""}, {CheckLevel::Fail, ""}}), 1);
}

TEST_F(DoctorTest, DevFuseMustBeACharacterDevice) {
    EXPECT_EQ(check_dev_fuse("/dev/null").level, CheckLevel::Ok);
    const CheckResult file = check_dev_fuse(mnt_ + "/rig-a");
    EXPECT_EQ(file.level, CheckLevel::Fail);
    EXPECT_NE(file.text.find("not a character device"), std::string::npos) << file.text;
    const CheckResult missing = check_dev_fuse(tmp_.path() + "/fuse");
    EXPECT_EQ(missing.level, CheckLevel::Fail);
    EXPECT_NE(missing.text.find("--device /dev/fuse"), std::string::npos) << missing.text;
}

TEST_F(DoctorTest, FusermountOnPath) {
    const std::string bin = tmp_.path() + "/bin";
    std::filesystem::create_directory(bin);
    EXPECT_EQ(check_fusermount(bin, true).level, CheckLevel::Warn);
    EXPECT_EQ(check_fusermount(bin, false).level, CheckLevel::Fail);
    std::ofstream(bin + "/fusermount3") << "#!/bin/sh\n";
    EXPECT_EQ(check_fusermount("/nonexistent:" + bin, false).level, CheckLevel::Fail)
        << "not executable yet";
    ::chmod((bin + "/fusermount3").c_str(), 0755);
    const CheckResult found = check_fusermount("/nonexistent:" + bin, false);
    EXPECT_EQ(found.level, CheckLevel::Ok);
    EXPECT_NE(found.text.find(bin + "/fusermount3"), std::string::npos);
}

TEST_F(DoctorTest, MountThatIsNoMountFails) {
    const CheckResult plain = check_mount(mnt_, WallClock::now());
    EXPECT_EQ(plain.level, CheckLevel::Fail);
    EXPECT_NE(plain.text.find("not a gastown-credfs mount"), std::string::npos) << plain.text;
    const CheckResult missing = check_mount(tmp_.path() + "/absent", WallClock::now());
    EXPECT_EQ(missing.level, CheckLevel::Fail);
    EXPECT_NE(missing.text.find("no such directory"), std::string::npos) << missing.text;
}

TEST_F(DoctorTest, StoreHelperOnARigFileIsOk) {
    for (const std::string& helper :
         {"store --file=" + mnt_ + "/rig-a", "store --file " + mnt_ + "/rig-a",
          "store --file='" + mnt_ + "/rig-a'",
          "/usr/lib/git-core/git-credential-store --file=" + mnt_ + "/rig-a"}) {
        const CheckResult r = check_credential_helper(git_said(0, helper + "\n"), mnt_, "");
        EXPECT_EQ(r.level, CheckLevel::Ok) << helper << ": " << r.text;
    }
}

TEST_F(DoctorTest, StoreHelperOnAMissingRigFileWarns) {
    const CheckResult r =
        check_credential_helper(git_said(0, "store --file=" + mnt_ + "/nope\n"), mnt_, "");
    EXPECT_EQ(r.level, CheckLevel::Warn) << r.text;
}

TEST_F(DoctorTest, OtherHelpersFail) {
    const CheckResult unset = check_credential_helper(git_said(1, ""), mnt_, "/src/repo");
    EXPECT_EQ(unset.level, CheckLevel::Fail);
    EXPECT_NE(unset.text.find("not set"), std::string::npos) << unset.text;
    EXPECT_NE(unset.text.find("gastown-creds-git-setup RIG /src/repo"), std::string::npos);
    EXPECT_EQ(check_credential_helper(git_said(0, "cache --timeout=3600\n"), mnt_, "").level,
              CheckLevel::Fail);
    EXPECT_EQ(check_credential_helper(git_said(0, "store\n"), mnt_, "").level, CheckLevel::Fail);
    EXPECT_EQ(
        check_credential_helper(git_said(0, "store --file=/home/u/.git-credentials\n"), mnt_, "")
            .level,
        CheckLevel::Fail);
    // A sibling whose name starts like the mountpoint is not inside it.
    EXPECT_EQ(
        check_credential_helper(git_said(0, "store --file=" + mnt_ + "x/rig-a\n"), mnt_, "").level,
        CheckLevel::Fail);
    EXPECT_EQ(
        check_credential_helper(git_said(128, "", "fatal: not a git repository\n"), mnt_, "").level,
        CheckLevel::Fail);
}

TEST_F(DoctorTest, RemoteWithATokenFailsMaskedWithTheFix) {
    const auto checks = check_remotes(
        git_said(0,
                 "origin\thttps://x-access-token:ghs_secret123@github.com/o/r.git (fetch)\n"
                 "origin\thttps://x-access-token:ghs_secret123@github.com/o/r.git (push)\n"
                 "mirror\tgit@github.com:o/r.git (fetch)\n"
                 "mirror\tgit@github.com:o/r.git (push)\n"),
        "/src/repo");
    ASSERT_EQ(checks.size(), 2u);
    EXPECT_EQ(checks[0].level, CheckLevel::Fail);
    EXPECT_EQ(checks[0].text,
              "remote origin https://x-access-token:***@github.com/o/r.git embeds a token, which "
              "wins over any credential helper and will expire; fix: git -C /src/repo remote "
              "set-url origin https://github.com/o/r.git");
    EXPECT_EQ(checks[1].level, CheckLevel::Ok);
    EXPECT_EQ(doctor_exit_code(checks), 1);
    for (const auto& c : checks) EXPECT_EQ(c.text.find("ghs_secret123"), std::string::npos);
}

TEST_F(DoctorTest, PushUrlWithATokenGetsThePushFix) {
    const auto checks = check_remotes(git_said(0,
                                               "origin\thttps://github.com/o/r (fetch)\n"
                                               "origin\thttps://ghp_x@github.com/o/r (push)\n"),
                                      "r");
    ASSERT_EQ(checks.size(), 2u);
    EXPECT_EQ(checks[0].level, CheckLevel::Ok);
    EXPECT_EQ(checks[1].level, CheckLevel::Fail);
    EXPECT_NE(checks[1].text.find("remote set-url --push origin https://github.com/o/r"),
              std::string::npos)
        << checks[1].text;
    EXPECT_EQ(checks[1].text.find("ghp_x"), std::string::npos);
}

TEST_F(DoctorTest, NoRemotesWarnsAndGitFailureFails) {
    const auto none = check_remotes(git_said(0, ""), "r");
    ASSERT_EQ(none.size(), 1u);
    EXPECT_EQ(none[0].level, CheckLevel::Warn);
    const auto broken = check_remotes(git_said(128, "", "fatal: not a git repository\n"), "r");
    ASSERT_EQ(broken.size(), 1u);
    EXPECT_EQ(broken[0].level, CheckLevel::Fail);
    EXPECT_NE(broken[0].text.find("not a git repository"), std::string::npos);
}

TEST(CommandOutputTest, RunsWithoutAShellAndCollectsBothStreams) {
    const CommandOutput r = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.out, "out\n");
    EXPECT_EQ(r.err, "err\n");
    // Arguments reach the program as they are: no word splitting or globbing.
    const CommandOutput echo = run_command({"printf", "%s|", "a b", "*"});
    EXPECT_EQ(echo.out, "a b|*|");
    const CommandOutput missing = run_command({"/nonexistent/program"});
    EXPECT_EQ(missing.exit_code, -1);
    EXPECT_NE(missing.err.find("cannot run"), std::string::npos);
}

}  // namespace
}  // namespace credfs
