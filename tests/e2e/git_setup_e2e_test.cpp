// credential.useHttpPath=true set globally (CI images, GitLab setups) with
// real git over HTTPS: git asks with the repository's path, so the rig
// file's host-only line never matches and git gives up ("could not read
// Username"), until gastown-creds-git-setup sets the host's useHttpPath back
// to false. `gastown-credfs doctor` fails in each broken state, with the
// fix, and passes once it is fixed. The agents' git config is the test's own
// ($HOME in the temp dir, no system config).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "git_world.hpp"

#ifndef CREDFS_SCRIPTS_DIR
#error "CREDFS_SCRIPTS_DIR must name mount-scripts/"
#endif

namespace credfs::e2e {
namespace {

class GitSetupE2e : public GitWorld {
  protected:
    /// The git server's host:port: the host the rig's line and git-setup name.
    std::string host() const { return git_server_->host(); }
    std::string url() const { return "https://" + host(); }

    /// Runs a tool with the agents' environment (GitWorld::git's), the
    /// daemon's mountpoint in $GASTOWN_CREDS_MOUNTPOINT.
    fakes::ProgramResult tool(const std::vector<std::string>& argv) const {
        return fakes::run_program(argv,
                                  {"HOME=" + home_dir_, "PATH=/usr/local/bin:/usr/bin:/bin",
                                   "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C",
                                   "GASTOWN_CREDS_MOUNTPOINT=" + harness_.mountpoint()},
                                  "", 60s);
    }
    fakes::ProgramResult git_setup() const {
        return tool({"bash", std::string(CREDFS_SCRIPTS_DIR) + "/gastown-creds-git-setup", "--host",
                     host(), kRig});
    }
    fakes::ProgramResult doctor() const {
        return tool({CREDFS_BINARY, "doctor", "--host", host(), harness_.mountpoint()});
    }

    void append_home(const std::string& name, const std::string& text) const {
        std::ofstream(home_dir_ + "/" + name, std::ios::app) << text;
    }

    /// No token the upstream ever issued appears in `text`.
    void expect_no_token_in(const std::string& text) const {
        for (const auto& t : fake_.issued()) {
            EXPECT_EQ(text.find(t.token), std::string::npos) << "a token leaked into: " << text;
        }
    }

    static bool has_line(const std::string& text, const std::string& line) {
        std::istringstream in(text);
        for (std::string l; std::getline(in, l);) {
            if (l == line) return true;
        }
        return false;
    }
};

TEST_F(GitSetupE2e, GlobalUseHttpPathFailsUntilGitSetupAndDoctorSaysSo) {
    // A token that expired, in a global `credential.helper store`, saved
    // with its path as git saves it when useHttpPath is on.
    fake_.set_ttl(1);
    const std::string dead = fetch_token_directly(kRig);
    ASSERT_TRUE(itest::wait_until([&] { return !fake_.is_valid(dead); }, 10s));
    fake_.set_ttl(3600);
    itest::RefreshParams refresh;
    refresh.read_timeout_s = 5;
    ASSERT_NO_FATAL_FAILURE(start_daemon(refresh));
    append_home(".git-credentials", "https://" + std::string(kUser) + ":" + dead + "@" + host() +
                                        "/" + kRepo + ".git\n");
    append_home(".gitconfig",
                "[user]\n\tname = e2e agent\n\temail = agent@example.invalid\n"
                "[http]\n\tsslCAInfo = " +
                    ca_file_ +
                    "\n[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n"
                    "[credential]\n\thelper = store\n\tuseHttpPath = true\n");
    const std::string path_fail =
        "FAIL credential.useHttpPath is true for " + url() +
        ": git asks with the repository path, so the rig file's line (host only) never matches "
        "and git prompts for a username; ";

    // Nothing set up: git takes the expired token and fails.
    const GitRun none = clone("none");
    EXPECT_NE(none.exit_code, 0) << none.describe();
    const auto d0 = doctor();
    EXPECT_EQ(d0.exit_code, 1) << d0.out << d0.err;
    EXPECT_TRUE(has_line(
        d0.out, path_fail + "fix: git config --global credential." + url() + ".useHttpPath false"))
        << d0.out;

    // The helper as git-setup wrote it before it knew of useHttpPath: git
    // asks the rig file with a path, and its host-only line never matches.
    for (const std::string& value : {std::string(), "store --file=" + rig_file()}) {
        const GitRun g =
            git({"config", "--global", "--add", "credential." + url() + ".helper", value});
        ASSERT_EQ(g.exit_code, 0) << g.describe();
    }
    const GitRun old_setup = clone("old-setup");
    EXPECT_NE(old_setup.exit_code, 0) << old_setup.describe();
    EXPECT_NE(old_setup.err.find("could not read Username"), std::string::npos)
        << old_setup.describe();
    const auto d1 = doctor();
    EXPECT_EQ(d1.exit_code, 1) << d1.out << d1.err;
    EXPECT_TRUE(has_line(
        d1.out, "OK   credential.helper for " + url() + " is 'store --file=" + rig_file() + "'"))
        << d1.out;
    EXPECT_TRUE(has_line(
        d1.out, path_fail + "fix: git config --global credential." + url() + ".useHttpPath false"))
        << d1.out;

    // gastown-creds-git-setup: the mount's token reaches git.
    const auto setup = git_setup();
    ASSERT_EQ(setup.exit_code, 0) << setup.out << setup.err;
    EXPECT_NE(setup.out.find("credential." + url() + ".useHttpPath = false"), std::string::npos)
        << setup.out;
    EXPECT_EQ(setup.err.find("git still asks"), std::string::npos) << setup.err;
    const GitRun cloned = clone("after");
    ASSERT_EQ(cloned.exit_code, 0) << cloned.describe();
    ASSERT_EQ(commit(clone_path("after"), "through the rig file").exit_code, 0);
    const GitRun pushed = push(clone_path("after"), "main");
    EXPECT_EQ(pushed.exit_code, 0) << pushed.describe();
    EXPECT_TRUE(credential_complaints(pushed.err).empty()) << pushed.describe();
    const auto d2 = doctor();
    EXPECT_EQ(d2.exit_code, 0) << d2.out << d2.err;
    EXPECT_EQ(d2.out.find("FAIL"), std::string::npos) << d2.out;
    EXPECT_TRUE(has_line(d2.out, "OK   git asks " + url() +
                                     " without a repository path (credential.useHttpPath off)"))
        << d2.out;

    // A later step appends credential.useHttpPath=true after that section:
    // git applies credential.* in file order, so it wins, although `git
    // config --get-urlmatch` (most specific URL wins) still says false.
    append_home(".gitconfig", "[credential]\n\tuseHttpPath = true\n");
    const GitRun urlmatch =
        git({"config", "--type=bool", "--get-urlmatch", "credential.useHttpPath", url() + "/"});
    EXPECT_EQ(urlmatch.out, "false\n") << "git config's answer, which doctor must not trust";
    const GitRun broken = fetch(clone_path("after"));
    EXPECT_NE(broken.exit_code, 0) << broken.describe();
    const auto d3 = doctor();
    EXPECT_EQ(d3.exit_code, 1) << d3.out << d3.err;
    EXPECT_TRUE(has_line(d3.out, path_fail + "credential." + url() +
                                     ".useHttpPath is false, but a credential.useHttpPath read "
                                     "after it wins; fix: GASTOWN_CREDS_MOUNTPOINT=" +
                                     harness_.mountpoint() + " gastown-creds-git-setup --host " +
                                     host() +
                                     " RIG, or remove that line where it is: git config "
                                     "--show-origin --get-regexp '^credential\\..*usehttppath$'"))
        << d3.out;
    ASSERT_EQ(git_setup().exit_code, 0);
    const GitRun fetched = fetch(clone_path("after"));
    EXPECT_EQ(fetched.exit_code, 0) << fetched.describe();
    const auto d4 = doctor();
    EXPECT_EQ(d4.exit_code, 0) << d4.out << d4.err;

    for (const auto& text :
         {d0.out, d1.out, d2.out, d3.out, d4.out, setup.out, setup.err, d0.err, d1.err, d3.err}) {
        expect_no_token_in(text);
        EXPECT_EQ(text.find(dead), std::string::npos);
    }
}

}  // namespace
}  // namespace credfs::e2e
