// The doctor's checks, from canned git output and files in a temp dir.
#include "credfs/cli/doctor.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "credfs/engine/fallback_store.hpp"
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
    EXPECT_EQ(format_check({CheckLevel::Info, "fyi"}), "INFO fyi\n");
    EXPECT_EQ(format_check({CheckLevel::Warn, "hmm"}), "WARN hmm\n");
    EXPECT_EQ(format_check({CheckLevel::Fail, "bad"}), "FAIL bad\n");
    EXPECT_EQ(doctor_exit_code({{CheckLevel::Ok, ""}, {CheckLevel::Warn, ""}}), 0);
    EXPECT_EQ(doctor_exit_code({{CheckLevel::Ok, ""}, {CheckLevel::Fail, ""}}), 1);
    EXPECT_EQ(doctor_exit_code({{CheckLevel::Info, ""}}), 0);
}

TEST_F(DoctorTest, FuseProblemsAreOnlyInfoWhileFilesModeServes) {
    const CheckResult missing = without_fuse_needed(check_dev_fuse(tmp_.path() + "/fuse"));
    EXPECT_EQ(missing.level, CheckLevel::Info);
    EXPECT_NE(missing.text.find("files mode serves without FUSE"), std::string::npos)
        << missing.text;
    const CheckResult fine = without_fuse_needed(check_dev_fuse("/dev/null"));
    EXPECT_EQ(fine.level, CheckLevel::Ok);
    EXPECT_EQ(fine.text.find("files mode"), std::string::npos);
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

TEST_F(DoctorTest, AStoreFileWithLinesForAnotherHostOnlyFails) {
    std::ofstream(mnt_ + "/rig-a") << "https://x-access-token:ghs_secret@github.com\n";
    const std::string helper = "store --file=" + mnt_ + "/rig-a\n";
    EXPECT_EQ(check_credential_helper(git_said(0, helper), mnt_, "").level, CheckLevel::Ok);
    EXPECT_EQ(check_credential_helper(git_said(0, helper), mnt_, "", "https://GitHub.com").level,
              CheckLevel::Ok)
        << "hosts match case-insensitively, as in git";
    const CheckResult other =
        check_credential_helper(git_said(0, helper), mnt_, "", "https://ghe.example.com:8443");
    EXPECT_EQ(other.level, CheckLevel::Fail);
    EXPECT_NE(other.text.find("has lines for https://github.com only, not "
                              "https://ghe.example.com:8443"),
              std::string::npos)
        << other.text;
    EXPECT_NE(other.text.find("set the rig's \"host\" to ghe.example.com:8443"), std::string::npos)
        << other.text;
    EXPECT_EQ(other.text.find("ghs_secret"), std::string::npos) << "never a token";
    std::ofstream(mnt_ + "/rig-a") << "https://x-access-token:ghs_secret@github.com\n"
                                   << "https://u:p@ghe.example.com:8443\n";
    EXPECT_EQ(check_credential_helper(git_said(0, helper), mnt_, "", "https://ghe.example.com:8443")
                  .level,
              CheckLevel::Ok)
        << "a kept line for that host serves it";
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

TEST_F(DoctorTest, TheDaemonsHelperAsTheOnlyHelperIsOk) {
    const std::string helper =
        "!/usr/bin/gastown-credfs credential-helper --socket " + mnt_ + ".sock --rig rig-a";
    const CheckResult r = check_credential_helper(git_said(0, helper + "\n"), mnt_, "");
    EXPECT_EQ(r.level, CheckLevel::Ok) << r.text;
    EXPECT_NE(r.text.find("no file fallback"), std::string::npos) << r.text;
    EXPECT_EQ(
        check_credential_helper(git_said(0, "!other-tool credential-helper\n"), mnt_, "").level,
        CheckLevel::Fail);
}

TEST_F(DoctorTest, AnotherHostAndTheSetupCommandAreNamed) {
    const CheckResult r =
        check_credential_helper(git_said(1, ""), mnt_, "", "https://127.0.0.1:8443",
                                "gastown-creds-git-setup --host 127.0.0.1:8443 RIG");
    EXPECT_EQ(r.level, CheckLevel::Fail);
    EXPECT_EQ(r.text,
              "credential.helper for https://127.0.0.1:8443 is not set, so git asks no helper; "
              "fix: gastown-creds-git-setup --host 127.0.0.1:8443 RIG");
}

TEST_F(DoctorTest, DaemonHelperSocketFromItsCommandLine) {
    EXPECT_EQ(
        daemon_helper_socket("!gastown-credfs credential-helper --socket /s.sock --rig a", "/d"),
        "/s.sock");
    EXPECT_EQ(
        daemon_helper_socket("!'/opt/x y/gastown-credfs' credential-helper --socket='/a b.sock' "
                             "--rig a",
                             "/d"),
        "/a b.sock");
    EXPECT_EQ(daemon_helper_socket("gastown-credfs credential-helper --rig a", "/d"), "/d");
    EXPECT_EQ(daemon_helper_socket("store --file=/x", "/d"), std::nullopt);
    EXPECT_EQ(daemon_helper_socket("!gastown-credfs status", "/d"), std::nullopt);
}

TEST_F(DoctorTest, DaemonHelperIsReportedWithWhetherItsSocketAnswers) {
    const std::string key = "credential.https://github.com.helper";
    const std::string values =
        "\n!gastown-credfs credential-helper --socket /run/a.sock --rig r\nstore --file=" + mnt_ +
        "/r\n";
    std::vector<std::string> asked;
    const auto answering = [&](const std::string& s) {
        asked.push_back(s);
        return true;
    };
    const auto up = check_daemon_helper(git_said(0, values), key, "/d", answering);
    ASSERT_TRUE(up.has_value());
    EXPECT_EQ(up->level, CheckLevel::Ok) << up->text;
    EXPECT_NE(up->text.find("git asks the daemon first"), std::string::npos) << up->text;
    EXPECT_EQ(asked, std::vector<std::string>{"/run/a.sock"});
    const auto down = check_daemon_helper(git_said(0, values), key, "/d",
                                          [](const std::string&) { return false; });
    ASSERT_TRUE(down.has_value());
    EXPECT_EQ(down->level, CheckLevel::Warn);
    EXPECT_NE(down->text.find("no daemon answers on /run/a.sock"), std::string::npos) << down->text;
    // Reset by a later "": git no longer runs it.
    EXPECT_FALSE(
        check_daemon_helper(git_said(0, values + "\nstore --file=/x\n"), key, "/d", answering)
            .has_value());
    EXPECT_FALSE(check_daemon_helper(git_said(1, ""), key, "/d", answering).has_value());
}

TEST_F(DoctorTest, GitAskingWithAPathFailsWithTheConfigFix) {
    const std::string url = "https://github.com";
    const std::string setup = "gastown-creds-git-setup RIG";
    const CommandOutput with_path =
        git_said(0,
                 "protocol=https\nhost=github.com\npath=gastown-credfs-doctor/probe.git\n"
                 "username=gastown-credfs-doctor\npassword=none\n");
    const CheckResult global = check_http_path(with_path, url, "", "", setup);
    EXPECT_EQ(global.level, CheckLevel::Fail);
    EXPECT_TRUE(global.text.ends_with(
        "; fix: git config --global credential.https://github.com.useHttpPath false"))
        << global.text;
    EXPECT_NE(global.text.find("credential.useHttpPath is true for https://github.com"),
              std::string::npos)
        << global.text;
    const CheckResult local = check_http_path(with_path, url, "/src/r", "true\n", setup);
    EXPECT_TRUE(local.text.ends_with(
        "; fix: git -C /src/r config credential.https://github.com.useHttpPath false"))
        << local.text;
    // The key is already false there, and a later generic setting wins:
    // setting it again would change nothing.
    const CheckResult overridden = check_http_path(with_path, url, "", "false\n", setup);
    EXPECT_EQ(overridden.level, CheckLevel::Fail);
    // git-setup only moves its own section to the end of its file: a later
    // line in another file (a repository's config, GIT_CONFIG_* variables)
    // still wins, so the fix also says how to find that line.
    EXPECT_NE(overridden.text.find("fix: gastown-creds-git-setup RIG"), std::string::npos)
        << overridden.text;
    EXPECT_TRUE(overridden.text.ends_with(
        "git config --show-origin --get-regexp '^credential\\..*usehttppath$'"))
        << overridden.text;

    const CheckResult host_only =
        check_http_path(git_said(0, "protocol=https\nhost=github.com\nusername=u\npassword=none\n"),
                        url, "", "", setup);
    EXPECT_EQ(host_only.level, CheckLevel::Ok) << host_only.text;
    EXPECT_EQ(
        check_http_path(git_said(128, "", "fatal: bad config line 3\n"), url, "", "", setup).level,
        CheckLevel::Fail);
}

/// The probe against real git with a config file of the test's own.
class HttpPathProbeTest : public DoctorTest {
  protected:
    CommandOutput probe(const std::string& gitconfig, const std::string& url) {
        const std::string file = tmp_.path() + "/gitconfig";
        std::ofstream(file, std::ios::trunc) << gitconfig;
        std::vector<std::string> argv = {"env", "GIT_CONFIG_GLOBAL=" + file,
                                         "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
                                         "HOME=" + tmp_.path()};
        const auto git = http_path_probe_argv(url, "");
        argv.insert(argv.end(), git.begin(), git.end());
        return run_command(argv);
    }
    bool git_sends_path(const std::string& gitconfig, const std::string& url) {
        const CommandOutput r = probe(gitconfig, url);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return check_http_path(r, url, "", "", "setup").level == CheckLevel::Fail;
    }
};

TEST_F(HttpPathProbeTest, AsksGitTheWayItAsksAHelper) {
    const std::string url = "https://github.com";
    EXPECT_FALSE(git_sends_path("", url));
    EXPECT_TRUE(git_sends_path("[credential]\n\tuseHttpPath = true\n", url));
    EXPECT_FALSE(
        git_sends_path("[credential]\n\tuseHttpPath = true\n[credential \"https://github.com\"]\n"
                       "\tuseHttpPath = false\n",
                       url));
    // git applies every matching entry in order: the generic one read last
    // wins, although `git config --get-urlmatch` (most specific URL wins)
    // says false here.
    EXPECT_TRUE(
        git_sends_path("[credential \"https://github.com\"]\n\tuseHttpPath = false\n[credential]\n"
                       "\tuseHttpPath = yes\n",
                       url));
    // A bare key is an error to git's credential code: named, as a failure.
    const CheckResult bare =
        check_http_path(probe("[credential]\n\tuseHttpPath\n", url), url, "", "", "setup");
    EXPECT_EQ(bare.level, CheckLevel::Fail);
    EXPECT_NE(bare.text.find("git credential fill failed"), std::string::npos) << bare.text;
    // Another host's setting does not count; a port is part of the host.
    EXPECT_FALSE(
        git_sends_path("[credential \"https://gitlab.com\"]\n\tuseHttpPath = true\n", url));
    EXPECT_TRUE(git_sends_path("[credential \"https://127.0.0.1:8443\"]\n\tuseHttpPath = true\n",
                               "https://127.0.0.1:8443"));
    EXPECT_FALSE(git_sends_path("[credential \"https://127.0.0.1:9999\"]\n\tuseHttpPath = true\n",
                                "https://127.0.0.1:8443"));
}

TEST_F(DoctorTest, FilesModeRigFilesHoldTheVouchedTokenUnexpired) {
    const WallTime now = WallClock::now();
    const std::string token = "ghs_filesModeSecret0123456789";
    const std::string status = R"({"mode": "files", "rigs": [{"id": "rig-a", "state": "ok"}]})";
    auto write = [&](const std::string& content, WallTime expires, const std::string& vouched) {
        std::ofstream(mnt_ + "/rig-a", std::ios::trunc) << content;
        std::ofstream(mnt_ + "/" + FallbackStore::state_file_name("rig-a"), std::ios::trunc)
            << FallbackStore::render_state(expires, vouched);
    };
    const std::string line = "https://x-access-token:" + token + "@github.com\n";
    write("https://alice:pw@gitlab.example\n" + line, now + std::chrono::minutes(30), token);
    const CheckResult fresh = check_rig_files(status, mnt_, now);
    EXPECT_EQ(fresh.level, CheckLevel::Ok) << fresh.text;
    EXPECT_NE(fresh.text.find("rig-a (29m 5"), std::string::npos) << fresh.text;

    write(line, now - std::chrono::seconds(5), token);
    const CheckResult expired = check_rig_files(status, mnt_, now);
    EXPECT_EQ(expired.level, CheckLevel::Fail);
    EXPECT_NE(expired.text.find("expired"), std::string::npos) << expired.text;

    write(line, now + std::chrono::minutes(30), "ghs_anotherToken");
    const CheckResult other = check_rig_files(status, mnt_, now);
    EXPECT_EQ(other.level, CheckLevel::Fail);
    EXPECT_NE(other.text.find("does not hold the token the daemon last wrote"), std::string::npos)
        << other.text;

    std::filesystem::remove(mnt_ + "/rig-a");
    const CheckResult missing = check_rig_files(status, mnt_, now);
    EXPECT_EQ(missing.level, CheckLevel::Fail);
    EXPECT_NE(missing.text.find("No such file"), std::string::npos) << missing.text;
    for (const auto& c : {fresh, expired, other, missing}) {
        EXPECT_EQ(c.text.find(token), std::string::npos) << "a token leaked: " << c.text;
    }
}

TEST_F(DoctorTest, DaemonFoundThroughItsSocket) {
    const WallTime now = WallClock::now();
    DaemonProbe none;
    none.problem = mnt_ + ": not a gastown-credfs mount (...)";
    const auto gone = check_daemon(none, mnt_, now);
    ASSERT_EQ(gone.size(), 1u);
    EXPECT_EQ(gone[0].level, CheckLevel::Fail);
    EXPECT_EQ(gone[0].text, none.problem);

    DaemonProbe files;
    files.source = DaemonProbe::Source::Socket;
    files.socket = mnt_ + ".sock";
    files.status_json = R"({"mode": "files", "rigs": []})";
    const auto serving = check_daemon(files, mnt_, now);
    ASSERT_EQ(serving.size(), 2u);
    EXPECT_EQ(serving[0].level, CheckLevel::Ok);
    EXPECT_EQ(serving[0].text, mnt_ + ": files mode (no mount), the daemon answers on " + mnt_ +
                                   ".sock, every rig ok");
    EXPECT_EQ(serving[1].level, CheckLevel::Ok);

    files.status_json = R"({"mode": "files", "rigs": [{"id": "a", "state": "expired"}]})";
    const auto unhealthy = check_daemon(files, mnt_, now);
    ASSERT_EQ(unhealthy.size(), 1u);
    EXPECT_EQ(unhealthy[0].level, CheckLevel::Fail);
    EXPECT_NE(unhealthy[0].text.find("a (expired)"), std::string::npos) << unhealthy[0].text;

    files.status_json = R"({"mode": "mount", "rigs": []})";
    files.mount.problem = mnt_ + ": not a gastown-credfs mount (...)";
    const auto elsewhere = check_daemon(files, mnt_, now);
    ASSERT_EQ(elsewhere.size(), 1u);
    EXPECT_EQ(elsewhere[0].level, CheckLevel::Fail);
    EXPECT_NE(elsewhere[0].text.find("says it serves a mount"), std::string::npos);
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

TEST(DoctorFixTest, TheGitSetupFixNamesANonDefaultMountpointTheScriptWouldNotFind) {
    DoctorOptions options;
    EXPECT_EQ(git_setup_command(options), "gastown-creds-git-setup RIG");
    options.mountpoint = "/tmp/gastown-creds/";
    EXPECT_EQ(git_setup_command(options), "gastown-creds-git-setup RIG");
    options.mountpoint = "/srv/creds";
    options.host = "ghe.example.com:8443";
    options.repo = "/src/r";
    EXPECT_EQ(git_setup_command(options),
              "GASTOWN_CREDS_MOUNTPOINT=/srv/creds gastown-creds-git-setup --host "
              "ghe.example.com:8443 RIG /src/r");
    options = DoctorOptions{};
    options.mountpoint = "/srv/it's here";
    EXPECT_EQ(git_setup_command(options),
              "GASTOWN_CREDS_MOUNTPOINT='/srv/it'\\''s here' gastown-creds-git-setup RIG");
}

}  // namespace
}  // namespace credfs
