#include "credfs/daemon/daemon.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>

#include "credfs/core/log.hpp"
#include "credfs/engine/refresh_scheduler.hpp"
#include "credfs/engine/reloader.hpp"
#include "credfs/engine/rig_registry.hpp"
#include "credfs/fs/filesystem.hpp"
#include "credfs/fs/fuse_adapter.hpp"
#include "credfs/helper/helper_client.hpp"
#include "credfs/helper/helper_server.hpp"
#include "credfs/sources/source_factory.hpp"

namespace credfs {

namespace {

constexpr unsigned kMaxFuseThreads = 256;

/// Reports startup success (0) or failure (1) to the waiting parent, once.
class ReadinessPipe {
  public:
    explicit ReadinessPipe(int fd) : fd_(fd) {}
    void report(char status) {
        if (fd_ < 0) return;
        ssize_t ignored = ::write(fd_, &status, 1);
        (void)ignored;
        ::close(fd_);
        fd_ = -1;
    }

  private:
    int fd_;
};

[[noreturn]] void wait_for_child(int read_fd, pid_t child) {
    char status = 1;
    const ssize_t n = ::read(read_fd, &status, 1);
    if (n != 1) {
        int wstatus = 0;
        ::waitpid(child, &wstatus, 0);
        std::fprintf(stderr, "gastown-credfs: the daemon exited during startup (see its log)\n");
        std::_Exit(1);
    }
    std::_Exit(status == 0 ? 0 : 1);
}

std::string describe_mountpoint_problem(const std::string& mountpoint) {
    struct stat st {};
    struct stat parent {};
    if (::stat(mountpoint.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return "mountpoint " + mountpoint + ": not a directory";
        // A directory on another device than its parent is a mount already;
        // stacking a second daemon on it would serve two sets of tokens.
        if (::stat((mountpoint + "/..").c_str(), &parent) == 0 && parent.st_dev != st.st_dev) {
            return "mountpoint " + mountpoint +
                   ": already mounted; unmount it first: fusermount3 -u " + mountpoint;
        }
        return "";
    }
    const int err = errno;
    if (err == ENOTCONN) {
        return "mountpoint " + mountpoint +
               ": a dead earlier mount is still there (Transport endpoint is not connected); "
               "run: fusermount3 -u -z " +
               mountpoint;
    }
    return "mountpoint " + mountpoint + ": " +
           std::error_code(err, std::generic_category()).message();
}

void detach_stdio() {
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd < 0) return;
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(null_fd, STDOUT_FILENO);
    ::dup2(null_fd, STDERR_FILENO);
    if (null_fd > STDERR_FILENO) ::close(null_fd);
}

bool every_rig_has_a_token(const RigRegistry& registry) {
    const auto set = registry.rigs();
    return std::all_of(set->rigs.begin(), set->rigs.end(),
                       [](const RigPtr& rig) { return rig->current() != nullptr; });
}

/// Polls the mountpoint from a plain thread (never a loop thread: that would
/// deadlock) until the kernel routes it to this daemon (its device changes)
/// and every rig has a token (or read_timeout_s has passed: the upstream may
/// be down, and reads will say so), then reports readiness and, for a
/// detached daemon, lets go of the terminal.
void announce_when_serving(const std::string& mountpoint, dev_t before, bool detach,
                           const RigRegistry& registry, double token_wait_s,
                           const std::atomic<bool>& stopping, ReadinessPipe& ready) {
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::seconds(30);
    const auto token_deadline = start + std::chrono::duration<double>(token_wait_s);
    struct stat st {};
    bool mounted = false;
    while (!stopping && std::chrono::steady_clock::now() < deadline) {
        mounted = mounted || (::stat(mountpoint.c_str(), &st) == 0 && st.st_dev != before);
        if (mounted && (every_rig_has_a_token(registry) ||
                        std::chrono::steady_clock::now() >= token_deadline)) {
            spdlog::info("serving at {}", mountpoint);
            ready.report(0);
            if (detach) detach_stdio();
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!stopping) spdlog::error("mount at {} did not answer within 30 s", mountpoint);
    ready.report(1);
}

/// The detached daemon must not hold the caller's descriptors (a pipe the
/// caller waits on for EOF would never close). The log file is reopened after.
void drop_inherited_fds(int keep) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>(
        "credfs", std::make_shared<spdlog::sinks::stderr_sink_mt>()));
    if (keep < 3) {
        ::close_range(3, ~0U, 0);
        return;
    }
    if (keep > 3) ::close_range(3, keep - 1, 0);
    ::close_range(keep + 1, ~0U, 0);
}

/// Blocks, in the calling thread and for its scope, the signals libfuse's
/// handlers end the loop on, so that every thread started meanwhile inherits
/// the block. libfuse's main loop waits in sem_wait() on the main thread and
/// relies on the signal interrupting it; delivered to one of our own threads
/// (the kernel picks another thread while the main thread blocks it, as
/// libfuse does briefly around starting a worker), it only set the exit flag
/// and the daemon went on serving until a request came.
class LoopSignalsBlocked {
  public:
    LoopSignalsBlocked() {
        sigset_t set;
        sigemptyset(&set);
        for (const int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&set, sig);
        ::pthread_sigmask(SIG_BLOCK, &set, &old_);
    }
    ~LoopSignalsBlocked() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
    LoopSignalsBlocked(const LoopSignalsBlocked&) = delete;
    LoopSignalsBlocked& operator=(const LoopSignalsBlocked&) = delete;

  private:
    sigset_t old_{};
};

struct FuseArgs {
    fuse_args args = FUSE_ARGS_INIT(0, nullptr);
    FuseArgs() {
        fuse_opt_add_arg(&args, "gastown-credfs");
        // default_permissions: the kernel enforces the 0600 modes we report.
        fuse_opt_add_arg(&args, "-odefault_permissions,fsname=gastown-credfs,subtype=credfs");
    }
    ~FuseArgs() { fuse_opt_free_args(&args); }
};

/// The credential helper's socket (config "socket", else <mountpoint>.sock).
/// One that cannot be bound is one error line, and the daemon serves on
/// without it: the files still work (docs/deployment.md).
std::unique_ptr<HelperServer> start_helper_server(const Config& config,
                                                  const std::string& mountpoint,
                                                  RigRegistry& registry, const Clock& clock) {
    const std::string path =
        config.socket.empty() ? socket_for_mountpoint(mountpoint) : config.socket;
    const StatusInfo info{CREDFS_VERSION, clock.now()};
    auto server = std::make_unique<HelperServer>(path, registry, [&registry, &clock, info] {
        return render_status(*registry.rigs(), info, clock.now());
    });
    try {
        server->start();
    } catch (const std::system_error& e) {
        spdlog::error("no credential helper: {}", e.what());
        return nullptr;
    }
    return server;
}

int serve(const Config& config, const DaemonOptions& options, ReadinessPipe& ready) {
    struct stat before {};
    ::stat(options.mountpoint.c_str(), &before);
    SystemClock clock;
    const auto shared_config = std::make_shared<const Config>(config);
    RefreshScheduler scheduler(clock);
    // Opened before mounting: the mount hides this directory from everyone
    // else, and the daemon keeps writing the static fallback files into it.
    std::unique_ptr<BackingDir> backing;
    try {
        backing = std::make_unique<BackingDir>(options.mountpoint);
    } catch (const std::system_error& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
    std::shared_ptr<TokenSource> source;
    std::unique_ptr<RigRegistry> registry_owner;
    try {
        source = make_token_source(config.source, clock);
        registry_owner = std::make_unique<RigRegistry>(
            shared_config, source, clock, default_random(), scheduler.notifier(), backing.get());
    } catch (const SourceError& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
    RigRegistry& registry = *registry_owner;
    Reloader reloader(options.config_path, clock, registry, shared_config, source);
    Filesystem filesystem(registry, clock, ::getuid(), ::getgid(), ScratchLimits{}, backing.get());
    filesystem.set_status_info(StatusInfo{CREDFS_VERSION, clock.now()});

    FuseFrontEnd front_end(filesystem);  // outlives the session: frees unreleased handles
    FuseArgs args;
    fuse_session* se =
        fuse_session_new(&args.args, &fuse_ll_ops(), sizeof(fuse_lowlevel_ops), &front_end);
    if (se == nullptr) {
        spdlog::error("cannot start FUSE (see the line above)");
        return 1;
    }
    // Handlers before the mount, as libfuse's examples do: a SIGTERM that
    // comes as soon as the mount is visible must end the loop and unmount,
    // not kill the process and leave a dead mount.
    fuse_set_signal_handlers(se);
    if (fuse_session_mount(se, options.mountpoint.c_str()) != 0) {
        spdlog::error("cannot mount at {}: check /dev/fuse, fusermount3 and permissions",
                      options.mountpoint);
        fuse_remove_signal_handlers(se);
        fuse_session_destroy(se);
        return 1;
    }
    std::atomic<bool> stopping{false};
    std::thread announcer;
    std::unique_ptr<HelperServer> helper;
    {
        // Our threads, and the refresh threads they start, never take the
        // signals that must reach the main thread.
        const LoopSignalsBlocked blocked;
        reloader.start();  // after libfuse's handlers: SIGHUP reloads instead of unmounting
        spdlog::info("mounted {} rig(s) at {}, source {}", registry.rigs()->rigs.size(),
                     options.mountpoint, source->type_name());
        scheduler.start(registry);
        helper = start_helper_server(config, options.mountpoint, registry, clock);
        announcer =
            std::thread(announce_when_serving, options.mountpoint, before.st_dev,
                        !options.foreground, std::cref(registry), config.refresh.read_timeout_s,
                        std::cref(stopping), std::ref(ready));
    }

    fuse_loop_config* loop_config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(loop_config, 0);
    // An open() waiting on a hung upstream holds a worker for up to
    // read_timeout_s; libfuse's default of 10 workers would let ten such opens
    // stall every ls and stat behind them.
    fuse_loop_cfg_set_max_threads(loop_config, kMaxFuseThreads);
    const int rc = fuse_session_loop_mt(se, loop_config);
    fuse_loop_cfg_destroy(loop_config);

    stopping = true;
    helper.reset();  // stops answering before the mount goes
    reloader.stop();
    scheduler.stop();
    fuse_remove_signal_handlers(se);
    fuse_session_unmount(se);
    fuse_session_destroy(se);
    // Only now: a loop that ends early (SIGTERM during startup) may drop the
    // request of the announcer's stat() unanswered, and that stat returns
    // only once the session's device is closed.
    announcer.join();
    spdlog::info("unmounted {}", options.mountpoint);
    // libfuse reports the signal that ended the loop as its result.
    const bool clean = rc == 0 || rc == SIGINT || rc == SIGTERM || rc == SIGHUP;
    return clean ? 0 : 1;
}

}  // namespace

int run_daemon(const Config& config, const DaemonOptions& options) {
    if (const std::string problem = describe_mountpoint_problem(options.mountpoint);
        !problem.empty()) {
        spdlog::error("{}", problem);
        return 1;
    }
    int fds[2] = {-1, -1};
    if (!options.foreground) {
        if (config.log.file.empty()) {
            spdlog::warn("no log.file configured: the daemon's log is discarded once it detaches");
        }
        if (::pipe(fds) != 0) {
            spdlog::error("pipe: {}", std::error_code(errno, std::generic_category()).message());
            return 1;
        }
        const pid_t child = ::fork();
        if (child < 0) {
            spdlog::error("fork: {}", std::error_code(errno, std::generic_category()).message());
            return 1;
        }
        if (child > 0) {
            ::close(fds[1]);
            wait_for_child(fds[0], child);
        }
        ::close(fds[0]);
        ::setsid();
        if (::chdir("/") != 0) return 1;
        drop_inherited_fds(fds[1]);
        try {
            init_logging(config.log);
        } catch (const ConfigError& e) {
            spdlog::error("{}", e.what());
            return 1;
        }
    }
    ReadinessPipe ready(fds[1]);
    const int rc = serve(config, options, ready);
    ready.report(1);  // a no-op once readiness was reported
    return rc;
}

}  // namespace credfs
