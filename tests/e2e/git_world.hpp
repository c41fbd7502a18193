// The world of the end-to-end tests: the fake Gastown upstream, a local git
// smart-HTTPS server that accepts only tokens that upstream issued and that
// are still valid, the real daemon on a temp mount, and real git processes
// run with a clean environment (their own HOME, no system config, no
// terminal prompts, no token in any URL) whose only credential source is
// `store --file=<credential file>`.
//
// Members are declared so that teardown runs git server, then daemon, then
// upstream: the daemon never sees its upstream vanish while it stops.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bare_repo.hpp"
#include "daemon_harness.hpp"
#include "fake_gastown.hpp"
#include "git_http_server.hpp"
#include "run_program.hpp"

namespace credfs::e2e {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

/// What one git invocation did.
struct GitRun {
    int exit_code = -1;
    bool timed_out = false;
    std::string out;
    std::string err;
    std::string describe() const;  ///< exit code and stderr, for messages
};

/// Lines of `err` that show git's credential machinery in trouble: the store
/// helper's lock/write failures, prompts it could not make, rejected logins.
std::vector<std::string> credential_complaints(const std::string& err);

/// The token in the first line of credential-store content when that line is
/// "https://<user>:<token>@<host>", else nullopt.
std::optional<std::string> first_line_token(const std::string& content, const std::string& user,
                                            const std::string& host);

class GitWorld : public ::testing::Test {
  protected:
    static constexpr char kJwt[] =
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjb250YWluZXItZTJlIn0.ZTJlLXNpZ25hdHVyZS1vbmx5";
    static constexpr char kRig[] = "rig-e2e";
    static constexpr char kUser[] = "x-access-token";
    static constexpr char kRepo[] = "project";

    GitWorld();
    void SetUp() override;
    void TearDown() override;

    /// Writes the daemon's config (one rig, kRig, whose line names
    /// `rig_host`; empty: the git server's host) and starts the daemon as
    /// `options` say (by default: mounts and waits for the mount).
    /// Use with ASSERT_NO_FATAL_FAILURE.
    void start_daemon(const itest::RefreshParams& refresh, const std::string& rig_host = "",
                      const itest::StartOptions& options = {});
    /// The rig's file in the mount (in files mode: in the served directory).
    std::string rig_file() const { return harness_.file(kRig); }

    /// Writes $HOME/.gitconfig: identity, TLS trust for the git server, and
    /// `store --file=<store_file>` as the only credential helper.
    void configure_git(const std::string& store_file) const;
    /// The same, with `gastown-credfs credential-helper` on the daemon's
    /// socket for kRig as the only credential helper (no file fallback: every
    /// credential git uses came from the helper).
    void configure_git_helper_only(const std::string& socket) const;

    /// Runs git with the clean environment; `input` goes to its stdin.
    GitRun git(const std::vector<std::string>& args, const std::string& input = "",
               std::chrono::milliseconds timeout = 60s) const;
    /// git -C <dir> ...
    GitRun git_in(const std::string& dir, const std::vector<std::string>& args) const;
    /// Clones the test repository into <work>/<name> and returns that path.
    std::string clone_path(const std::string& name) const { return work_dir_ + "/" + name; }
    GitRun clone(const std::string& name) const;
    /// An empty commit: a push then always has something to send.
    GitRun commit(const std::string& dir, const std::string& message) const;
    GitRun push(const std::string& dir, const std::string& branch) const;
    GitRun fetch(const std::string& dir) const;
    /// The commit a branch points at in the server's bare repository.
    std::string server_ref(const std::string& branch) const;

    /// Asks the fake upstream for a token the way the daemon would, for tests
    /// that run without the daemon.
    std::string fetch_token_directly(const std::string& rig);

    /// Every "open waited X s" the daemon logged, in seconds.
    std::vector<double> on_demand_waits() const;

    fakes::FakeGastown fake_;
    itest::DaemonHarness harness_;
    std::unique_ptr<fakes::GitHttpServer> git_server_;
    std::string base_dir_;  ///< <harness root>/e2e
    std::string home_dir_;
    std::string repos_dir_;
    std::string work_dir_;
    std::string ca_file_;
    bool daemon_started_ = false;
};

}  // namespace credfs::e2e
