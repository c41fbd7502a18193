// Files mode: the rig files as plain files, renewed before expiry and
// repaired after git's store helper rewrote them. Served when the kernel
// refuses the mount (here for real: a private mount namespace in which
// /dev/fuse is /dev/null) and with --files DIR. Real git reads and writes the
// files from outside the daemon's namespace, as an agent's git would.
#include <httplib.h>
#include <json/json.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

constexpr char kRig[] = "rig-a";
constexpr char kOtherHostLine[] = "https://alice:pw-other@gitlab.example\n";

// 3-s tokens renewed at half their life: in files mode nothing refreshes on
// read, so the file's token must still have 1.5 s left when it is replaced,
// longer than any read below takes.
RefreshParams short_lived() {
    RefreshParams p;
    p.margin_s = 1.5;
    p.min_ttl_s = 1;
    p.jitter_s = 0.2;
    p.read_timeout_s = 5;
    return p;
}

/// The token on the first line when that is the managed line for github.com.
std::optional<std::string> first_line_token(const std::string& content) {
    const auto end = content.find('\n');
    if (end == std::string::npos) return std::nullopt;
    return token_from_line(content.substr(0, end + 1));
}

int count_lines_with(const std::string& text, const std::string& needle) {
    int n = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
    return n;
}

class FilesModeTest : public MountTest {
  protected:
    void SetUp() override {
        home_ = harness_.root() + "/home";
        std::filesystem::create_directory(home_);
    }

    /// The daemon's argv goes after this: a private mount namespace in which
    /// /dev/fuse is /dev/null, so the kernel refuses every FUSE mount there
    /// (the daemon still runs as root, as in a container without FUSE rights).
    static std::vector<std::string> without_fuse() {
        return {"unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                "mount --bind /dev/null /dev/fuse && exec \"$@\"",
                "sh"};
    }

    /// Writes the config and starts the normal command (with MOUNTPOINT)
    /// where the mount is refused; waits until files mode serves.
    void start_without_fuse(const RefreshParams& refresh) {
        harness_.write_jwt(kJwt);
        harness_.write_config(fake_.base_url(), refresh, {{kRig, ""}});
        StartOptions options;
        options.wrapper = without_fuse();
        options.wait = StartOptions::Wait::FilesServing;
        ASSERT_TRUE(harness_.start(options));
        mounted_once_ = true;
    }

    void start_files_option(const RefreshParams& refresh) {
        harness_.write_jwt(kJwt);
        harness_.write_config(fake_.base_url(), refresh, {{kRig, ""}});
        ASSERT_TRUE(harness_.start_files_mode());
        mounted_once_ = true;
    }

    /// `git credential-store --file=<rig file> <action>`, run by real git
    /// with a clean environment (own HOME, no system config).
    ProcessResult store_helper(const std::string& action, const std::string& input) const {
        return run_process({"env", "-i", "HOME=" + home_, "PATH=/usr/local/bin:/usr/bin:/bin",
                            "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "git",
                            "credential-store", "--file=" + harness_.file(kRig), action},
                           input, 20s);
    }

    /// The password git's store helper answers for github.com, or "" when
    /// it answers none.
    std::string git_get() const {
        const ProcessResult r = store_helper("get", "protocol=https\nhost=github.com\n\n");
        std::istringstream in(r.output);
        for (std::string line; std::getline(in, line);) {
            if (line.starts_with("password=")) return line.substr(9);
        }
        return "";
    }

    std::string rig_content() const { return read_whole_file(harness_.file(kRig)).data; }

    /// A token the upstream issued for the rig before the daemon's own,
    /// fetched as the daemon would: "an older token" git may write back.
    std::string fetch_token_directly() {
        httplib::Client client(fake_.base_url());
        const auto res =
            client.Post(std::string("/api/towns/t1/rigs/") + kRig + "/refresh-git-token",
                        httplib::Headers{{"Authorization", std::string("Bearer ") + kJwt}}, "",
                        "application/json");
        if (!res || res->status != 200) return "";
        Json::Value body;
        std::istringstream in(res->body);
        in >> body;
        return body["token"].asString();
    }

    /// Reads the rig's token through `read` for `duration`; every token read
    /// must be valid at the upstream right after the read.
    struct ReadFigures {
        int reads = 0;
        int invalid = 0;
        int empty = 0;
        std::set<std::string> distinct;
    };
    ReadFigures read_for(std::chrono::milliseconds duration,
                         const std::function<std::string()>& read) {
        ReadFigures f;
        const auto end = SteadyClock::now() + duration;
        while (SteadyClock::now() < end) {
            const std::string token = read();
            ++f.reads;
            if (token.empty()) {
                ++f.empty;
                continue;
            }
            if (!fake_.is_valid(token)) ++f.invalid;
            f.distinct.insert(token);
        }
        return f;
    }

    std::string home_;
};

TEST_F(FilesModeTest, WithoutFuseTheNormalCommandServesValidTokensAcrossLifetimes) {
    fake_.set_ttl(3);
    ASSERT_NO_FATAL_FAILURE(start_without_fuse(short_lived()));
    const ReadFigures f = read_for(10s, [&] { return git_get(); });
    std::cout << "files mode without FUSE: " << f.reads << " git credential-store reads in 10 s, "
              << f.distinct.size() << " distinct tokens, " << f.invalid << " invalid, " << f.empty
              << " empty" << std::endl;
    EXPECT_GE(f.reads, 20);
    EXPECT_EQ(f.invalid, 0) << "git read a token the upstream no longer accepts";
    EXPECT_EQ(f.empty, 0) << "git found no credential in the rig file";
    // Ten seconds of 3-s tokens renewed at half life: several lifetimes.
    EXPECT_GE(f.distinct.size(), 3u);
    EXPECT_TRUE(harness_.alive());
    const std::string log = harness_.log_text();
    const std::string fallback =
        "cannot mount at " + harness_.mountpoint() + ": ";  // then libfuse's reason
    EXPECT_EQ(count_lines_with(log, "serving files mode over " + harness_.mountpoint()), 1) << log;
    EXPECT_EQ(count_lines_with(log, fallback), 1) << log;
}

TEST_F(FilesModeTest, WithoutFuseAnErasedRevokedTokenIsReplacedAndOtherHostsKept) {
    // Tokens outlive the test: only git's erase can bring a new one.
    fake_.set_ttl(3600);
    RefreshParams no_lag_window;  // the token is seconds old: with one, the erase is lag
    no_lag_window.publish_delay_s = 0;
    ASSERT_NO_FATAL_FAILURE(start_without_fuse(no_lag_window));
    const auto first = wait_for_token(kRig);
    ASSERT_TRUE(first.has_value());
    ASSERT_TRUE(wait_until([&] { return first_line_token(rig_content()) == first->token; }, 10s))
        << rig_content();

    // git stores another host's credential: its line goes first, and the
    // daemon puts the managed line back in front of it.
    const ProcessResult stored = store_helper(
        "store", "protocol=https\nhost=gitlab.example\nusername=alice\npassword=pw-other\n\n");
    ASSERT_EQ(stored.exit_code, 0) << stored.error;
    const std::string with_other =
        "https://x-access-token:" + first->token + "@github.com\n" + kOtherHostLine;
    ASSERT_TRUE(wait_until([&] { return rig_content() == with_other; }, 10s)) << rig_content();

    // As git does after a 401: the store helper erases the line whose
    // password it used.
    fake_.revoke(first->token);
    const auto erased_at = SteadyClock::now();
    const ProcessResult erased = store_helper(
        "erase", "protocol=https\nhost=github.com\nusername=x-access-token\npassword=" +
                     first->token + "\n\n");
    ASSERT_EQ(erased.exit_code, 0) << erased.error;
    std::optional<std::string> now;
    const bool replaced = wait_until(
        [&] {
            now = first_line_token(rig_content());
            return now && *now != first->token && fake_.is_valid(*now);
        },
        10s, 5ms);
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - erased_at);
    ASSERT_TRUE(replaced) << "no valid new token in the file 10 s after git's erase:\n"
                          << rig_content();
    // From before git's erase ran to the new token seen in the file; the
    // issue's closing note quotes it. Not asserted: no timing assertions.
    std::cout << "erase-to-new-token: " << took.count() << " ms" << std::endl;
    RecordProperty("erase_to_new_token_ms", static_cast<int>(took.count()));

    EXPECT_EQ(rig_content(), "https://x-access-token:" + *now + "@github.com\n" + kOtherHostLine);
    EXPECT_EQ(git_get(), *now);
    EXPECT_EQ(fake_.revocations(), 1);
}

TEST_F(FilesModeTest, WithoutFuseRequireMountExitsOneWithTheReason) {
    harness_.write_jwt(kJwt);
    harness_.write_config(fake_.base_url(), RefreshParams{}, {{kRig, ""}});
    harness_.expect_exit_code(1);
    harness_.allow_log_line("cannot mount at .*--require-mount: not falling back to files mode");
    StartOptions options;
    options.wrapper = without_fuse();
    options.extra_args = {"--require-mount"};
    options.wait = StartOptions::Wait::Nothing;
    ASSERT_TRUE(harness_.start(options));
    mounted_once_ = true;
    ASSERT_TRUE(wait_until([&] { return !harness_.alive(); }, 20s)) << "still running";
    ASSERT_TRUE(harness_.exit_status().has_value());
    ASSERT_TRUE(WIFEXITED(*harness_.exit_status()));
    EXPECT_EQ(WEXITSTATUS(*harness_.exit_status()), 1);

    const std::string log = harness_.log_text();
    const std::string prefix = "cannot mount at " + harness_.mountpoint() + ": ";
    const std::string suffix = " (--require-mount: not falling back to files mode)";
    ASSERT_EQ(count_lines_with(log, prefix), 1) << log;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
        const auto at = line.find(prefix);
        if (at == std::string::npos) continue;
        ASSERT_TRUE(line.ends_with(suffix)) << line;
        const std::string reason =
            line.substr(at + prefix.size(), line.size() - suffix.size() - at - prefix.size());
        EXPECT_FALSE(reason.empty()) << line;
        std::cout << "require-mount reason: " << reason << std::endl;
    }
    EXPECT_EQ(log.find("serving"), std::string::npos) << "it served:\n" << log;
    EXPECT_FALSE(std::filesystem::exists(harness_.file(kRig))) << "it wrote a rig file";
}

TEST_F(FilesModeTest, FilesOptionRenewsPrivateFilesAcrossLifetimesAndStopsOnSigterm) {
    fake_.set_ttl(3);
    ASSERT_NO_FATAL_FAILURE(start_files_option(short_lived()));
    ReadFigures f;
    // Until seven tokens were seen: renewed at half life, that spans three
    // whole lifetimes. Reads of the file itself, as git's store helper makes.
    const bool renewed = wait_until(
        [&] {
            const ReadFigures one =
                read_for(50ms, [&] { return first_line_token(rig_content()).value_or(""); });
            f.reads += one.reads;
            f.invalid += one.invalid;
            f.empty += one.empty;
            f.distinct.insert(one.distinct.begin(), one.distinct.end());
            return f.distinct.size() >= 7;
        },
        30s, 1ms);
    EXPECT_TRUE(renewed) << f.distinct.size() << " distinct tokens in 30 s";
    EXPECT_EQ(f.invalid, 0) << "the file held a token the upstream no longer accepts";
    EXPECT_EQ(f.empty, 0) << "the file was missing or not a managed line";
    EXPECT_NE(git_get(), "");
    EXPECT_FALSE(harness_.mounted());

    struct stat st {};
    ASSERT_EQ(::stat(harness_.file(kRig).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(st.st_uid, ::geteuid());
    EXPECT_TRUE(S_ISREG(st.st_mode));

    ASSERT_EQ(::kill(harness_.pid(), SIGTERM), 0);
    ASSERT_TRUE(wait_until([&] { return !harness_.alive(); }, 10s)) << "SIGTERM did not stop it";
    ASSERT_TRUE(harness_.exit_status().has_value());
    EXPECT_TRUE(WIFEXITED(*harness_.exit_status()));
    EXPECT_EQ(WEXITSTATUS(*harness_.exit_status()), 0);
}

// Readiness ("serving at DIR (files mode)", and a detached daemon's return)
// promises what a reader finds: the rig file with the token. Here a git
// holds the rig's lock file while the daemon fetches its first token, so the
// file cannot be written yet; readiness has to wait for it.
TEST_F(FilesModeTest, FilesOptionSaysServingOnlyOnceTheFileHoldsTheToken) {
    fake_.set_ttl(3600);
    harness_.write_jwt(kJwt);
    harness_.write_config(fake_.base_url(), RefreshParams{}, {{kRig, ""}});
    const std::string lock = harness_.file(std::string(kRig) + ".lock");
    { std::ofstream(lock) << ""; }
    StartOptions options;
    options.files_only = true;
    options.wait = StartOptions::Wait::Nothing;
    ASSERT_TRUE(harness_.start(options));
    mounted_once_ = true;
    const std::string ready_line = "serving at " + harness_.mountpoint() + " (files mode)";
    const auto announced = [&] {
        return harness_.log_text().find(ready_line) != std::string::npos;
    };
    ASSERT_TRUE(wait_for_token(kRig).has_value());
    // The daemon waits up to 2 s for git's lock; within the first second of
    // it the file cannot hold the token, so readiness must not be claimed.
    const bool early = wait_until(announced, 1s);
    const std::string during = rig_content();
    ASSERT_EQ(::unlink(lock.c_str()), 0);
    EXPECT_FALSE(early) << "readiness claimed while the rig file was "
                        << (during.empty() ? "missing" : "holding: " + during);
    ASSERT_TRUE(wait_until(announced, 20s)) << harness_.diagnostics();
    EXPECT_EQ(first_line_token(rig_content()), fake_.current(kRig)->token);
}

TEST_F(FilesModeTest, FilesOptionRestoresTheTokenAfterGitApprovesAnOldOneOrTheFileIsRemoved) {
    // Tokens outlive the test: only the watcher can put the current one back.
    fake_.set_ttl(3600);
    const std::string old_token = fetch_token_directly();
    ASSERT_FALSE(old_token.empty());
    ASSERT_NO_FATAL_FAILURE(start_files_option(RefreshParams{}));
    std::optional<fakes::IssuedToken> current;
    ASSERT_TRUE(wait_until(
        [&] { return (current = fake_.current(kRig)) && current->token != old_token; }, 10s))
        << "the daemon fetched no token of its own";
    ASSERT_TRUE(wait_until([&] { return first_line_token(rig_content()) == current->token; }, 10s))
        << rig_content();
    const int calls = fake_.calls(kRig);

    // git approves after a success with the password it had read, here an
    // older one; its store helper writes that line in place of the managed one.
    const ProcessResult approved = store_helper(
        "store",
        "protocol=https\nhost=github.com\nusername=x-access-token\npassword=" + old_token + "\n\n");
    ASSERT_EQ(approved.exit_code, 0) << approved.error;
    EXPECT_TRUE(wait_until(
        [&] {
            return rig_content() == "https://x-access-token:" + current->token + "@github.com\n";
        },
        10s))
        << "the old token stayed:\n"
        << rig_content();

    ASSERT_EQ(::unlink(harness_.file(kRig).c_str()), 0);
    EXPECT_TRUE(wait_until([&] { return first_line_token(rig_content()) == current->token; }, 10s))
        << "the removed file was not written again";
    struct stat st {};
    ASSERT_EQ(::stat(harness_.file(kRig).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(st.st_uid, ::geteuid());

    // Neither an approval nor a removal is a rejection.
    EXPECT_EQ(fake_.calls(kRig), calls);
    EXPECT_EQ(git_get(), current->token);
}

// status asks the socket when there is no mount; a files-mode daemon that
// died leaves its socket behind, and status says so rather than "no mount".
TEST_F(FilesModeTest, StatusSaysWhichModeServesAndWhenItsDaemonIsGone) {
    fake_.set_ttl(3600);
    ASSERT_NO_FATAL_FAILURE(start_files_option(RefreshParams{}));
    const ProcessResult serving =
        run_process({CREDFS_BINARY, "status", harness_.mountpoint()}, "", 30s);
    EXPECT_EQ(serving.exit_code, 0) << serving.error;
    EXPECT_NE(serving.output.find("files mode (no mount)"), std::string::npos) << serving.output;
    harness_.expect_killed_by_signal(SIGKILL);
    ASSERT_EQ(::kill(harness_.pid(), SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return !harness_.alive(); }, 10s));
    const ProcessResult gone =
        run_process({CREDFS_BINARY, "status", harness_.mountpoint()}, "", 30s);
    EXPECT_EQ(gone.exit_code, 1);
    EXPECT_NE(gone.error.find("no daemon answers on " + harness_.mountpoint() + ".sock"),
              std::string::npos)
        << gone.error;
}

}  // namespace
}  // namespace credfs::itest
