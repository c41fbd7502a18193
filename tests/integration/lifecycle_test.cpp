// Starting and stopping: exit status, a busy mountpoint, a detached start,
// and a mount that keeps answering while opens wait on a hung upstream.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>
#include <thread>
#include <utility>
#include <vector>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

/// Processes with a descriptor open on directory `dir`: a daemon keeps its
/// credential directory open (the mount's backing directory).
std::vector<pid_t> processes_holding(const std::string& dir) {
    namespace fs = std::filesystem;
    std::vector<pid_t> pids;
    std::error_code ec;
    // increment(ec), never ++: a process may exit while it is looked at.
    for (fs::directory_iterator proc("/proc", ec), end; !ec && proc != end; proc.increment(ec)) {
        const std::string name = proc->path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::error_code fd_ec;
        for (fs::directory_iterator fd(proc->path() / "fd", fd_ec); !fd_ec && fd != end;
             fd.increment(fd_ec)) {
            std::error_code link_ec;
            if (fs::read_symlink(fd->path(), link_ec) == dir) {
                pids.push_back(static_cast<pid_t>(std::stol(name)));
                break;
            }
        }
    }
    return pids;
}

class LifecycleTest : public MountTest {
  protected:
    /// After harness_.stop(): the daemon exited 0 and left no mount.
    ::testing::AssertionResult exited_zero_and_unmounted() {
        if (!harness_.exit_status().has_value()) {
            return ::testing::AssertionFailure() << "the daemon was not reaped";
        }
        const int status = *harness_.exit_status();
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            return ::testing::AssertionFailure() << describe_wait_status(status);
        }
        if (harness_.mounted()) return ::testing::AssertionFailure() << "still mounted";
        return ::testing::AssertionSuccess();
    }
};

size_t thread_count(pid_t pid) {
    std::error_code ec;
    size_t n = 0;
    for (auto it =
             std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
        ++n;
    }
    return n;
}

TEST_F(LifecycleTest, SigtermUnmountsAndExitsZero) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    ASSERT_TRUE(wait_for_token("rig-a").has_value());
    harness_.stop();
    ASSERT_TRUE(harness_.exit_status().has_value());
    const int status = *harness_.exit_status();
    EXPECT_TRUE(WIFEXITED(status)) << "wait status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 0) << harness_.diagnostics();
    EXPECT_FALSE(harness_.mounted());
}

// libfuse's signal handlers went in only after mounting: a SIGTERM that came
// as the mount appeared (a supervisor stopping a daemon it just started)
// killed the daemon and left a dead mount ("Transport endpoint is not
// connected") instead of unmounting.
TEST_F(LifecycleTest, SigtermAsSoonAsTheMountAppearsUnmountsAndExitsZero) {
    harness_.write_jwt(kJwt);
    harness_.write_config(fake_.base_url(), RefreshParams{}, {{"rig-a", ""}});
    for (int round = 1; round <= 20; ++round) {
        ASSERT_TRUE(harness_.start());
        harness_.stop();
        ASSERT_TRUE(exited_zero_and_unmounted()) << "round " << round;
    }
}

// SIGHUP's handler had SA_RESTART. A SIGTERM that came while SIGHUP was
// being delivered ran inside it and set libfuse's exit flag, but the main
// thread's wait in libfuse's loop was restarted after both handlers, so the
// daemon slept on and ignored the SIGTERM (PosixTest's reload test, 1 run in
// about 150).
TEST_F(LifecycleTest, SigtermRightAfterSighupStillUnmountsAndExitsZero) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    for (int round = 1; round <= 20; ++round) {
        if (round > 1) {
            ASSERT_TRUE(harness_.start());
        }
        ASSERT_EQ(::kill(harness_.pid(), SIGHUP), 0);
        ASSERT_EQ(::kill(harness_.pid(), SIGTERM), 0);
        harness_.stop();
        ASSERT_TRUE(exited_zero_and_unmounted()) << "round " << round;
    }
}

// libfuse's handler owned SIGHUP from the mount until the reloader started:
// a reload asked for as soon as the mount appeared (a supervisor, or
// systemctl reload right after start) unmounted the daemon instead.
TEST_F(LifecycleTest, ASighupAsSoonAsTheMountAppearsReloadsAndKeepsServing) {
    harness_.write_jwt(kJwt);
    harness_.write_config(fake_.base_url(), RefreshParams{}, {{"rig-a", ""}});
    for (int round = 1; round <= 100; ++round) {
        ASSERT_TRUE(harness_.start());
        ASSERT_EQ(::kill(harness_.pid(), SIGHUP), 0);
        ASSERT_TRUE(wait_until(
            [&] {
                return harness_.run_log_text().find("reloaded ") != std::string::npos ||
                       !harness_.alive();
            },
            20s));
        ASSERT_TRUE(harness_.alive()) << "round " << round << ": " << harness_.diagnostics();
        ASSERT_TRUE(harness_.mounted()) << "round " << round;
        harness_.stop();
    }
}

TEST_F(LifecycleTest, ASecondDaemonOnALiveMountIsRefused) {
    // The refused second daemon logs to the same file.
    harness_.allow_log_line("already mounted by FUSE");
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    const ProcessResult second = run_process(
        {CREDFS_BINARY, "--config", harness_.config_path(), "-f", harness_.mountpoint()}, "", 20s);
    EXPECT_EQ(second.exit_code, 1) << second.error;
    EXPECT_NE(second.error.find("already mounted"), std::string::npos) << second.error;
    const ReadResult still = read_whole_file(harness_.file("rig-a"));
    EXPECT_EQ(still.error, 0);
}

/// A volume as `podman run -v DIR:MOUNTPOINT` makes one: a tmpfs at `dir`
/// (another file system than the mountpoint's, as the host's is in a
/// container) bound onto the harness's mountpoint. Undone when the test
/// ends, the daemon stopped first (it may still be mounted on top).
class VolumeAtMountpoint {
  public:
    VolumeAtMountpoint(DaemonHarness& harness, std::string dir)
        : harness_(harness), dir_(std::move(dir)) {}
    ~VolumeAtMountpoint() {
        harness_.stop();
        if (bound_) ::umount2(harness_.mountpoint().c_str(), MNT_DETACH);
        if (made_) ::umount2(dir_.c_str(), MNT_DETACH);
    }
    VolumeAtMountpoint(const VolumeAtMountpoint&) = delete;
    VolumeAtMountpoint& operator=(const VolumeAtMountpoint&) = delete;
    /// Mounts both; errno says why not.
    bool mount() {
        if (::mkdir(dir_.c_str(), 0700) != 0) return false;
        made_ = ::mount("volume", dir_.c_str(), "tmpfs", 0, "size=1m,mode=0700") == 0;
        bound_ = made_ && ::mount(dir_.c_str(), harness_.mountpoint().c_str(), nullptr, MS_BIND,
                                  nullptr) == 0;
        return bound_;
    }

  private:
    DaemonHarness& harness_;
    std::string dir_;
    bool made_ = false;
    bool bound_ = false;
};

// A container volume at the mountpoint (podman -v DIR:MOUNTPOINT, a
// Kubernetes emptyDir) is a mount, but no FUSE one: it was refused as
// "already mounted". The daemon mounts on it, and its static files live on
// the volume, where readers fall back once it stops.
TEST_F(LifecycleTest, MountsOnAVolumeAndLeavesFreshStaticFilesOnIt) {
    const std::string volume = harness_.root() + "/volume";
    VolumeAtMountpoint at(harness_, volume);
    ASSERT_TRUE(at.mount()) << "the volume: " << std::strerror(errno);
    struct stat volume_root {};
    ASSERT_EQ(::stat(volume.c_str(), &volume_root), 0);

    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    const ReadResult live = read_whole_file(harness_.file("rig-a"));
    ASSERT_EQ(live.error, 0);
    const auto served = token_from_line(live.data);
    ASSERT_TRUE(served.has_value()) << "no token line through the mount";
    EXPECT_TRUE(fake_.is_valid(*served));

    harness_.stop();
    ASSERT_TRUE(harness_.exit_status().has_value());
    EXPECT_TRUE(WIFEXITED(*harness_.exit_status()) && WEXITSTATUS(*harness_.exit_status()) == 0)
        << describe_wait_status(*harness_.exit_status());
    EXPECT_FALSE(harness_.mounted());
    // The volume is still mounted there: the mountpoint is its root.
    struct stat at_mountpoint {};
    ASSERT_EQ(::stat(harness_.mountpoint().c_str(), &at_mountpoint), 0) << std::strerror(errno);
    EXPECT_EQ(at_mountpoint.st_dev, volume_root.st_dev);
    EXPECT_EQ(at_mountpoint.st_ino, volume_root.st_ino);
    for (const std::string& path : {harness_.file("rig-a"), volume + "/rig-a"}) {
        const ReadResult left = read_whole_file(path);
        ASSERT_EQ(left.error, 0) << path;
        const auto token = token_from_line(left.data);
        ASSERT_TRUE(token.has_value()) << path << ": no token line";
        EXPECT_TRUE(fake_.is_valid(*token)) << path;
    }
}

// With libfuse's default of 10 workers, ten opens waiting on a hung upstream
// left no worker for ls or stat.
TEST_F(LifecycleTest, LsAndStatAnswerWhileManyOpensWaitOnAHungUpstream) {
    constexpr int kReaders = 24;
    fake_.set_ttl(3);
    RefreshParams refresh;
    refresh.margin_s = 0.1;
    refresh.min_ttl_s = 2.9;  // every open finds the token stale
    refresh.read_timeout_s = 60;
    ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, {{"rig-a", ""}, {"rig-b", ""}}));
    const auto first = wait_for_token("rig-a");
    ASSERT_TRUE(first.has_value());
    ASSERT_TRUE(wait_for_token("rig-b").has_value());
    ASSERT_TRUE(wait_until([&] { return seconds_left(*first) < 2.8; }, 10s));  // stale now

    fake_.hold();
    std::atomic<int> finished{0};
    std::vector<std::thread> readers;
    for (int i = 0; i < kReaders; ++i) {
        readers.emplace_back([&] {
            read_whole_file(harness_.file("rig-a"));
            ++finished;
        });
    }
    // Each waiting open holds one FUSE worker thread; with the main and
    // scheduler threads, the daemon then has at least kReaders + 2.
    const bool all_waiting =
        wait_until([&] { return thread_count(harness_.pid()) >= kReaders + 2; }, 20s);
    auto listing = std::async(std::launch::async, [&] {
        struct stat st {};
        const int stat_rc = ::stat(harness_.file("rig-b").c_str(), &st);
        std::error_code ec;
        size_t names = 0;
        for (auto it = std::filesystem::directory_iterator(harness_.mountpoint(), ec);
             !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
            ++names;
        }
        return stat_rc == 0 && !ec && names == 4;  // two rigs, .status and .metrics
    });
    const bool answered = listing.wait_for(30s) == std::future_status::ready;
    // The readers can only finish once the upstream answers (or after the
    // harness's 5 s request timeout): if ls finished first, it did not queue
    // behind them.
    const int finished_before_ls = finished.load();
    fake_.release();
    for (auto& t : readers) t.join();
    EXPECT_TRUE(all_waiting) << "the daemon never had " << kReaders << " opens waiting at once";
    ASSERT_TRUE(answered) << "stat/readdir never answered";
    EXPECT_TRUE(listing.get());
    EXPECT_EQ(finished_before_ls, 0) << "stat/readdir waited behind the blocked opens";
}

// Without -f the command returns once the mount serves, and the detached
// daemon keeps none of the caller's descriptors (a caller reading a pipe to
// EOF would otherwise hang).
TEST_F(LifecycleTest, DetachedStartServesAtOnceAndDropsInheritedDescriptors) {
    harness_.write_jwt(kJwt);
    harness_.write_config(fake_.base_url(), RefreshParams{}, {{"rig-a", ""}});
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(fds[0]);
        const int devnull = ::open("/dev/null", O_WRONLY);
        ::dup2(devnull, STDOUT_FILENO);
        ::dup2(devnull, STDERR_FILENO);
        ::execl(CREDFS_BINARY, CREDFS_BINARY, "--config", harness_.config_path().c_str(),
                harness_.mountpoint().c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(fds[1]);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
    // Not the harness's child: stopped here, by SIGTERM. An unmount alone
    // would leave it running in files mode.
    struct Stop {
        const DaemonHarness& h;
        ~Stop() {
            for (const pid_t pid : processes_holding(h.mountpoint())) ::kill(pid, SIGTERM);
            wait_until([&] { return processes_holding(h.mountpoint()).empty(); }, 20s);
            if (h.mounted()) run_process({"fusermount3", "-u", "-z", h.mountpoint()}, "", 20s);
        }
    } stop{harness_};

    const ReadResult first = read_whole_file(harness_.file("rig-a"));
    ASSERT_EQ(first.error, 0);
    const auto token = token_from_line(first.data);
    ASSERT_TRUE(token.has_value());
    EXPECT_TRUE(fake_.is_valid(*token));

    pollfd p{fds[0], POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 20000), 1) << "the detached daemon still holds the caller's pipe";
    char c;
    EXPECT_EQ(::read(fds[0], &c, 1), 0);
    ::close(fds[0]);

    // The detached daemon is found by its directory, and SIGTERM ends it
    // and its mount (what gastown-creds-umount does).
    const std::vector<pid_t> daemons = processes_holding(harness_.mountpoint());
    ASSERT_EQ(daemons.size(), 1u);
    ASSERT_EQ(::kill(daemons[0], SIGTERM), 0);
    EXPECT_TRUE(wait_until(
        [&] { return processes_holding(harness_.mountpoint()).empty() && !harness_.mounted(); },
        20s))
        << "the detached daemon outlived SIGTERM";
}

}  // namespace
}  // namespace credfs::itest
