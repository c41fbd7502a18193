// Files mode under hostile use (issue 12, section 1): git's store helper
// writing the rig file while the daemon rewrites it, a lock file left
// behind, a second daemon on the same directory. Files mode is entered the
// way an operator's `fusermount3 -u` enters it: the daemon mounts, the mount
// is taken away from outside, and the daemon goes on over the same directory.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "mount_fixture.hpp"

#ifndef CREDFS_BINARY
#error "CREDFS_BINARY must name the gastown-credfs executable"
#endif

namespace credfs::itest {
namespace {

constexpr char kGitHub[] = "protocol=https\nhost=github.com\n";

class FilesModeFaultsTest : public MountTest {
  protected:
    /// Mounts rig-a with hour-long tokens, then unmounts from outside and
    /// waits until the daemon serves files mode over the same directory.
    void start_files_mode(const RefreshParams& refresh = {}) {
        fake_.set_ttl(3600);
        ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, {{"rig-a", ""}}));
        ASSERT_TRUE(wait_for_token("rig-a").has_value());
        const ProcessResult unmount =
            run_process({"fusermount3", "-u", harness_.mountpoint()}, "", 30s);
        ASSERT_EQ(unmount.exit_code, 0) << unmount.error;
        ASSERT_TRUE(wait_until(
            [&] { return harness_.log_text().find("files mode: keeping") != std::string::npos; },
            20s))
            << harness_.diagnostics();
        ASSERT_TRUE(wait_until(
            [&] { return token_from_line(first_line(harness_.file("rig-a"))).has_value(); }, 20s));
    }

    static std::string first_line(const std::string& path) {
        const std::string data = read_whole_file(path).data;
        const size_t eol = data.find('\n');
        return eol == std::string::npos ? data : data.substr(0, eol + 1);
    }

    ProcessResult credential_store(const std::string& action, const std::string& input) const {
        return run_process({"git", "credential-store", "--file", harness_.file("rig-a"), action},
                           input, 30s);
    }

    std::string socket() const { return harness_.mountpoint() + ".sock"; }
};

// git's store helper is the only writer of the other hosts' lines; one git
// after another (no concurrency among gits at all) must never lose a line
// to the daemon's rewrite that follows each store.
TEST_F(FilesModeFaultsTest, SequentialGitStoresOfOtherHostsAreNeverLost) {
    ASSERT_NO_FATAL_FAILURE(start_files_mode());
    constexpr int kStores = 100;
    for (int i = 0; i < kStores; ++i) {
        const ProcessResult r =
            credential_store("store", "protocol=https\nhost=h" + std::to_string(i) +
                                          ".example\nusername=u\npassword=p\n\n");
        ASSERT_EQ(r.exit_code, 0) << r.error;
    }
    std::vector<int> missing;
    const auto collect_missing = [&] {
        missing.clear();
        const std::string data = read_whole_file(harness_.file("rig-a")).data;
        for (int i = 0; i < kStores; ++i) {
            if (data.find("@h" + std::to_string(i) + ".example\n") == std::string::npos) {
                missing.push_back(i);
            }
        }
        return missing.empty();
    };
    // git's store puts its line first; the daemon then puts the managed line
    // back in front. A lost line never comes back: the wait only lets the
    // daemon settle.
    const bool settled = wait_until(
        [&] {
            return collect_missing() &&
                   token_from_line(first_line(harness_.file("rig-a"))).has_value();
        },
        10s);
    EXPECT_TRUE(missing.empty()) << missing.size() << " of " << kStores
                                 << " stored lines lost, e.g. h" << missing.front() << ".example";
    EXPECT_TRUE(settled) << "the managed line is not first: "
                         << first_line(harness_.file("rig-a")).substr(0, 20);
}

// In files mode the rig file is what git reads: a refresh that cannot be
// written there (git's lock left behind) leaves git an old token, so status
// must not call the rig ok.
TEST_F(FilesModeFaultsTest, StatusIsNotOkWhileTheRigFileCannotBeWritten) {
    RefreshParams no_lag_window;  // the token is seconds old: with one, the erase is lag
    no_lag_window.publish_delay_s = 0;
    ASSERT_NO_FATAL_FAILURE(start_files_mode(no_lag_window));
    { std::ofstream(harness_.file("rig-a.lock")); }
    // Force a refresh whose write must wait for the lock: the helper's erase
    // of the current token.
    const auto token = fake_.current("rig-a");
    ASSERT_TRUE(token.has_value());
    const ProcessResult erase = run_process(
        {CREDFS_BINARY, "credential-helper", "--socket", socket(), "--rig", "rig-a", "erase"},
        std::string(kGitHub) + "username=x-access-token\npassword=" + token->token + "\n\n", 30s);
    ASSERT_EQ(erase.exit_code, 0) << erase.error;
    ASSERT_TRUE(wait_until(
        [&] { return harness_.log_text().find("rig-a.lock stayed held") != std::string::npos; },
        20s))
        << harness_.diagnostics();
    const ProcessResult status =
        run_process({CREDFS_BINARY, "status", harness_.mountpoint()}, "", 30s);
    EXPECT_EQ(status.exit_code, 1) << status.output;
    EXPECT_NE(status.output.find("lock"), std::string::npos) << status.output;
    // Once git's lock is gone the write is retried by itself: the file gets
    // the new token without another refresh.
    harness_.allow_log_line("rig-a.lock stayed held");
    ::unlink(harness_.file("rig-a.lock").c_str());
    const auto renewed = [&] {
        const auto latest = fake_.current("rig-a");
        return latest && latest->token != token->token &&
               token_from_line(first_line(harness_.file("rig-a"))) == latest->token;
    };
    EXPECT_TRUE(wait_until(renewed, 20s)) << harness_.diagnostics();
    const ProcessResult healthy =
        run_process({CREDFS_BINARY, "status", harness_.mountpoint()}, "", 30s);
    EXPECT_EQ(healthy.exit_code, 0) << healthy.output;
}

// Two daemons keeping the same files fresh each take the other's write for
// git's and rewrite the file at once, for ever. The second must refuse.
TEST_F(FilesModeFaultsTest, ASecondDaemonOnTheSameDirectoryRefusesToStart) {
    ASSERT_NO_FATAL_FAILURE(start_files_mode());
    harness_.allow_log_line("another gastown-credfs already serves");
    const ProcessResult second = run_process(
        {CREDFS_BINARY, "--config", harness_.config_path(), "-f", "--files", harness_.mountpoint()},
        "", 10s);
    EXPECT_FALSE(second.timed_out) << "the second daemon served the same directory";
    EXPECT_EQ(second.exit_code, 1);
    EXPECT_NE(second.error.find("another gastown-credfs already serves " + harness_.mountpoint()),
              std::string::npos)
        << second.error;
}

}  // namespace
}  // namespace credfs::itest
