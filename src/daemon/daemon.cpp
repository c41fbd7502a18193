#include "credfs/daemon/daemon.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "credfs/core/log.hpp"
#include "credfs/core/signals.hpp"
#include "credfs/daemon/service_notifier.hpp"
#include "credfs/engine/refresh_pool.hpp"
#include "credfs/engine/refresh_scheduler.hpp"
#include "credfs/engine/reloader.hpp"
#include "credfs/engine/rig_registry.hpp"
#include "credfs/engine/status.hpp"
#include "credfs/files/files_watcher.hpp"
#include "credfs/fs/filesystem.hpp"
#include "credfs/fs/fuse_adapter.hpp"
#include "credfs/helper/helper_client.hpp"
#include "credfs/helper/helper_server.hpp"
#include "credfs/sources/source_factory.hpp"

namespace credfs {

namespace {

constexpr unsigned kMaxFuseThreads = 256;

/// Reports startup success (0) or failure (1), once: to the waiting parent
/// (a pipe; -1 in the foreground) and, success only, to the service
/// manager (READY=1). Carries the service notifier to the front ends.
class ReadinessPipe {
  public:
    ReadinessPipe(int fd, ServiceNotifier& service) : fd_(fd), service_(service) {}
    void report(char status) {
        if (reported_) return;
        reported_ = true;
        if (status == 0) service_.ready();
        if (fd_ < 0) return;
        ssize_t ignored = ::write(fd_, &status, 1);
        (void)ignored;
        ::close(fd_);
        fd_ = -1;
    }
    ServiceNotifier& service() { return service_; }

  private:
    int fd_;
    ServiceNotifier& service_;
    bool reported_ = false;
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

constexpr long kFuseSuperMagic = 0x65735546;  // linux/magic.h

/// True when the file system serving `path` is FUSE (false also when
/// statfs fails: the caller's stat has already answered).
bool is_fuse(const std::string& path) {
    struct statfs fs {};
    return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == kFuseSuperMagic;
}

std::string describe_mountpoint_problem(const std::string& mountpoint) {
    struct stat st {};
    if (::stat(mountpoint.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return "mountpoint " + mountpoint + ": not a directory";
        // A live FUSE mount there is another daemon's (or another file
        // system's): stacking on it would serve two sets of tokens. Any other
        // mount (a container volume, a bind mount, a tmpfs) is accepted: the
        // static files then live on it, where readers fall back to.
        if (is_fuse(mountpoint)) {
            return "mountpoint " + mountpoint +
                   ": already mounted by FUSE (a running gastown-credfs?); unmount it first: "
                   "gastown-creds-umount --mountpoint " +
                   mountpoint;
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

/// Files mode serves a plain directory, also a volume mounted there (a
/// Kubernetes emptyDir shared with the agents), but never a FUSE mount: that
/// is another daemon's. A missing directory is created, mode 0700.
std::string describe_files_dir_problem(const std::string& dir) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        return "files directory " + dir + ": " +
               std::error_code(errno, std::generic_category()).message();
    }
    struct statfs fs {};
    struct stat st {};
    if (::statfs(dir.c_str(), &fs) != 0 || ::stat(dir.c_str(), &st) != 0) {
        // A dead mount (ENOTCONN) is described as for the mount.
        return describe_mountpoint_problem(dir);
    }
    if (!S_ISDIR(st.st_mode)) return "files directory " + dir + ": not a directory";
    if (fs.f_type == kFuseSuperMagic) {
        return "files directory " + dir +
               ": is a FUSE mount (a running gastown-credfs?); stop it first: "
               "gastown-creds-umount --mountpoint " +
               dir;
    }
    return "";
}

void detach_stdio() {
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd < 0) return;
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(null_fd, STDOUT_FILENO);
    ::dup2(null_fd, STDERR_FILENO);
    if (null_fd > STDERR_FILENO) ::close(null_fd);
}

/// Files mode serves through the files themselves: a token in memory is
/// not yet served until its rig file holds it (two fsyncs later, or after
/// a git let go of the rig's lock file). Reads no file while a rig has no
/// token (RigRegistry::tokenless: one atomic load), then each rig file
/// until it has been seen holding its token (a reload starts over).
class RigFilesHoldTheirTokens {
  public:
    bool operator()(const RigRegistry& registry, const BackingDir& dir) {
        if (registry.tokenless() != 0) return false;
        if (auto set = registry.rigs(); set != set_) {
            set_ = std::move(set);
            next_ = 0;
        }
        for (; next_ < set_->rigs.size(); ++next_) {
            const Rig& rig = *set_->rigs[next_];
            const CredentialPtr cred = rig.current();
            if (cred == nullptr || dir.read(rig.config().file) != cred->content) return false;
        }
        return true;
    }

  private:
    std::shared_ptr<const RigSet> set_;
    size_t next_ = 0;
};

/// Polls from a plain thread (never a loop thread: that would deadlock)
/// until the kernel routes the mountpoint to this daemon (its device is no
/// longer `before`) and every rig has a token, or in files mode (no
/// `before`; `files` set) every rig file holds its token (or read_timeout_s
/// has passed: the upstream may be down, and reads will say so), then
/// reports readiness and, for a detached daemon, lets go of the terminal.
void announce_when_serving(const std::string& mountpoint, std::optional<dev_t> before, bool detach,
                           const RigRegistry& registry, const BackingDir* files,
                           double token_wait_s, const std::atomic<bool>& stopping,
                           ReadinessPipe& ready) {
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::seconds(30);
    const auto token_deadline = start + std::chrono::duration<double>(token_wait_s);
    struct stat st {};
    bool mounted = !before;
    RigFilesHoldTheirTokens files_hold;
    while (!stopping && std::chrono::steady_clock::now() < deadline) {
        mounted = mounted || (::stat(mountpoint.c_str(), &st) == 0 && st.st_dev != *before);
        // A count, not a walk: 100,000 rigs every 10 ms cost a core (issue 14).
        const bool served =
            files != nullptr ? files_hold(registry, *files) : registry.tokenless() == 0;
        if (mounted && (served || std::chrono::steady_clock::now() >= token_deadline)) {
            spdlog::info("serving at {}{}", mountpoint, before ? "" : " (files mode)");
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

// Signals: libfuse's main loop waits in sem_wait() on the main thread and
// relies on the signal interrupting it; delivered to one of our own threads
// (the kernel picks another thread while the main thread blocks it, as
// libfuse does briefly around starting a worker), it only set the exit flag
// and the daemon went on serving until a request came. So every thread the
// daemon starts runs under DaemonSignalsBlocked (core/signals.hpp).

struct FuseArgs {
    fuse_args args = FUSE_ARGS_INIT(0, nullptr);
    FuseArgs() {
        fuse_opt_add_arg(&args, "gastown-credfs");
        // default_permissions: the kernel enforces the 0600 modes we report.
        fuse_opt_add_arg(&args, "-odefault_permissions,fsname=gastown-credfs,subtype=credfs");
    }
    ~FuseArgs() { fuse_opt_free_args(&args); }
};

/// The freshness engine and what drives it, whichever front end serves.
struct Engine {
    explicit Engine(std::shared_ptr<const Config> c)
        : config(std::move(c)),
          scheduler(clock, 1.0, static_cast<size_t>(config->refresh.max_concurrent_refreshes)),
          refresh_pool(static_cast<size_t>(config->refresh.max_concurrent_refreshes),
                       static_cast<size_t>(config->refresh.max_concurrent_refreshes)) {}
    SystemClock clock;
    std::shared_ptr<const Config> config;
    RefreshScheduler scheduler;
    // Opened before mounting: the mount hides this directory from everyone
    // else, and the daemon keeps writing the static fallback files into it.
    std::unique_ptr<BackingDir> backing;
    std::shared_ptr<TokenSource> source;
    // Before the registry: rigs hand it tokens until they are gone.
    std::unique_ptr<Revoker> revoker;
    // Runs every refresh. Before the registry (rigs wait for their refreshes
    // as they go), after what the refreshes use (source, backing dir): its
    // workers are joined before those go. Its background lane is as wide as
    // the scheduler's bound on background refreshes
    // (refresh.max_concurrent_refreshes), and as many workers again are kept
    // for refreshes readers wait on.
    RefreshPool refresh_pool;
    std::unique_ptr<RigRegistry> registry;
    std::unique_ptr<Reloader> reloader;
    WallTime started_at = clock.now();
    /// Which front end serves the rig files, for the status document.
    std::atomic<bool> files_mode{false};

    // The revoker's thread asks the registry: stopped before it goes.
    // Refreshes still queued for the pool end without an upstream call: the
    // rigs wait for theirs as they go, the pool for all.
    ~Engine() {
        if (revoker) revoker->stop();
        if (registry) registry->stop_refreshes();
        // Every queued refresh ends now, while the registry (whose ServedFeed
        // the rigs report to) still lives: a rig the scheduler still holds
        // outlives the registry, and its refresh must not run after it.
        refresh_pool.stop();
    }
    StatusInfo status_info(const char* mode) const {
        return StatusInfo{CREDFS_VERSION, started_at, mode, revoker.get()};
    }
};

/// Builds the engine over `dir`; null after one error line.
std::unique_ptr<Engine> make_engine(std::shared_ptr<const Config> shared,
                                    const DaemonOptions& options) {
    auto e = std::make_unique<Engine>(std::move(shared));
    const Config& config = *e->config;
    try {
        e->backing = std::make_unique<BackingDir>(options.mountpoint);
        e->source = make_token_source(config.source, e->clock);
        e->registry =
            std::make_unique<RigRegistry>(e->config, e->source, e->clock, default_random(),
                                          e->scheduler.notifier(), e->backing.get());
        e->registry->set_refresh_pool(&e->refresh_pool);
        const RigRegistry* registry = e->registry.get();
        e->revoker = std::make_unique<Revoker>(
            e->clock, default_random(), config.refresh,
            [registry](const std::string& token) { return registry->serves(token); });
        e->registry->set_revoker(e->revoker.get());
    } catch (const std::system_error& err) {
        spdlog::error("{}", err.what());
        return nullptr;
    } catch (const SourceError& err) {
        spdlog::error("{}", err.what());
        return nullptr;
    }
    e->reloader = std::make_unique<Reloader>(options.config_path, e->clock, *e->registry, e->config,
                                             e->source);
    return e;
}

/// The credential helper's socket (config "socket", else <mountpoint>.sock).
/// One that cannot be bound is one error line, and the daemon serves on
/// without it: the files still work (docs/deployment.md).
std::unique_ptr<HelperServer> start_helper_server(const Engine& e, const std::string& mountpoint) {
    const std::string path =
        e.config->socket.empty() ? socket_for_mountpoint(mountpoint) : e.config->socket;
    auto server = std::make_unique<HelperServer>(path, *e.registry, [&e] {
        return render_status(*e.registry->rigs(), e.status_info(e.files_mode ? "files" : "mount"),
                             e.clock.now());
    });
    try {
        server->start();
    } catch (const std::system_error& err) {
        spdlog::error("no credential helper: {}", err.what());
        return nullptr;
    }
    return server;
}

/// libfuse reports a refused mount on stderr, over one to three lines (and
/// fusermount3, which it may run, on its own). Those lines are caught here
/// and joined into the one reason the daemon logs.
class StderrCapture {
  public:
    StderrCapture() : saved_(::dup(STDERR_FILENO)), memfd_(::memfd_create("fuse-stderr", 0)) {
        if (saved_ >= 0 && memfd_ >= 0) ::dup2(memfd_, STDERR_FILENO);
    }
    ~StderrCapture() { restore(); }
    StderrCapture(const StderrCapture&) = delete;
    StderrCapture& operator=(const StderrCapture&) = delete;

    /// Restores stderr and returns what was written, lines joined by "; ".
    std::string text() {
        restore();
        std::string out;
        if (memfd_ < 0) return out;
        char buf[1024];
        ssize_t n = 0;
        ::lseek(memfd_, 0, SEEK_SET);
        while ((n = ::read(memfd_, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
        ::close(memfd_);
        memfd_ = -1;
        std::string joined;
        for (size_t at = 0; at < out.size();) {
            size_t end = out.find('\n', at);
            if (end == std::string::npos) end = out.size();
            if (end > at) joined += (joined.empty() ? "" : "; ") + out.substr(at, end - at);
            at = end + 1;
        }
        return joined;
    }

  private:
    void restore() {
        if (saved_ < 0) return;
        ::dup2(saved_, STDERR_FILENO);
        ::close(saved_);
        saved_ = -1;
    }
    int saved_;
    int memfd_;
};

/// What serving the mount ended with.
struct MountOutcome {
    bool mounted = false;  ///< False: the kernel (or libfuse) refused; see `problem`.
    std::string problem;   ///< Why the mount was refused, one line.
    bool lost = false;     ///< The mount went away under a running daemon (fusermount3 -u).
    int exit_status = 0;   ///< When not lost: the process's exit status.
};

/// Serves files mode: the engine keeps the static files fresh, the watcher
/// hands git's rewrites to it, until SIGTERM, SIGINT or SIGQUIT. `started`:
/// the engine's threads already run (the mount was lost under them).
int serve_files(Engine& e, const DaemonOptions& options, bool started, ReadinessPipe& ready) {
    e.files_mode = true;
    e.backing->set_shared_with_git(true);
    FilesWatcher watcher(options.mountpoint, *e.registry, *e.backing);
    std::atomic<bool> stopping{false};
    std::thread announcer;
    {
        const DaemonSignalsBlocked blocked;
        try {
            watcher.start();
        } catch (const std::system_error& err) {
            // The files are still renewed; only git's erase goes unseen.
            spdlog::error(
                "files mode: {}: git's erase after a rejection is not seen; the "
                "files are still renewed",
                err.what());
        }
        if (!started) {
            e.reloader->start();
            e.scheduler.start(*e.registry);
            e.revoker->start();
            announcer =
                std::thread(announce_when_serving, options.mountpoint, std::nullopt,
                            !options.foreground, std::cref(*e.registry), e.backing.get(),
                            e.config->refresh.read_timeout_s, std::cref(stopping), std::ref(ready));
        }
    }
    spdlog::info("files mode: keeping {} rig file(s) in {} fresh, no mount",
                 e.registry->rigs()->rigs.size(), options.mountpoint);
    const sigset_t stop = stop_signals();
    ::pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    int sig = 0;
    ::sigwait(&stop, &sig);
    ready.service().stopping();
    spdlog::info("files mode: stopping on signal {}", sig);
    stopping = true;
    watcher.stop();
    e.registry->stop_refreshes();  // a reload waits for its rigs' queued refreshes
    e.reloader->stop();
    e.scheduler.stop();
    if (announcer.joinable()) announcer.join();
    return 0;
}

/// Mounts and serves until a signal or until the mount goes away. A lost
/// mount leaves the engine's threads running and the stop signals blocked
/// in the calling thread, for serve_files to take over.
MountOutcome serve_mount(Engine& e, const DaemonOptions& options, ReadinessPipe& ready) {
    MountOutcome out;
    struct stat before {};
    ::stat(options.mountpoint.c_str(), &before);
    Filesystem filesystem(*e.registry, e.clock, ::getuid(), ::getgid(), ScratchLimits{},
                          e.backing.get());
    StatusInfo info = e.status_info("mount");
    info.started_at = e.clock.now();
    filesystem.set_status_info(info);

    FuseFrontEnd front_end(filesystem);  // outlives the session: frees unreleased handles
    FuseArgs args;
    fuse_session* se =
        fuse_session_new(&args.args, &fuse_ll_ops(), sizeof(fuse_lowlevel_ops), &front_end);
    if (se == nullptr) {
        spdlog::error("cannot start FUSE (see the line above)");
        out.mounted = true;  // not the kernel's refusal: no fallback
        out.exit_status = 1;
        return out;
    }
    // Handlers before the mount, as libfuse's examples do: a SIGTERM that
    // comes as soon as the mount is visible must end the loop and unmount,
    // not kill the process and leave a dead mount.
    // SIGHUP first, not when the reloader starts: libfuse then leaves it
    // alone, and a SIGHUP that comes as soon as the mount is visible waits
    // for the reload instead of unmounting (ReloadTest.ABadConfig..., which
    // sends one then, failed 1 run in 100).
    e.reloader->catch_sighup();
    fuse_set_signal_handlers(se);
    int mount_rc = 0;
    {
        StderrCapture capture;
        mount_rc = fuse_session_mount(se, options.mountpoint.c_str());
        out.problem = capture.text();
    }
    if (mount_rc != 0) {
        if (out.problem.empty()) out.problem = "libfuse could not mount";
        fuse_remove_signal_handlers(se);
        fuse_session_destroy(se);
        return out;
    }
    out.mounted = true;
    std::atomic<bool> stopping{false};
    std::thread announcer;
    {
        // Our threads, and the refresh threads they start, never take the
        // signals that must reach the main thread.
        const DaemonSignalsBlocked blocked;
        e.reloader->start();  // after libfuse's handlers: SIGHUP reloads instead of unmounting
        spdlog::info("mounted {} rig(s) at {}, source {}", e.registry->rigs()->rigs.size(),
                     options.mountpoint, e.source->type_name());
        start_kernel_cache(filesystem, se, e.registry->served_feed());
        e.scheduler.start(*e.registry);
        e.revoker->start();
        announcer =
            std::thread(announce_when_serving, options.mountpoint, before.st_dev,
                        !options.foreground, std::cref(*e.registry), nullptr,
                        e.config->refresh.read_timeout_s, std::cref(stopping), std::ref(ready));
    }

    fuse_loop_config* loop_config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(loop_config, 0);
    // An open() waiting on a hung upstream holds a worker for up to
    // read_timeout_s; libfuse's default of 10 workers would let ten such opens
    // stall every ls and stat behind them.
    fuse_loop_cfg_set_max_threads(loop_config, kMaxFuseThreads);
    const int rc = fuse_session_loop_mt(se, loop_config);
    fuse_loop_cfg_destroy(loop_config);

    // libfuse reports the signal that ended the loop as its result, and 0
    // when the kernel ended the session: someone unmounted from outside.
    out.lost = rc == 0;
    if (out.lost) {
        // Blocked before libfuse's handlers go: a SIGTERM from now on waits
        // for files mode's sigwait instead of killing the process.
        const sigset_t stop = stop_signals();
        ::pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    } else {
        ready.service().stopping();
        stopping = true;
        e.registry->stop_refreshes();  // a reload waits for its rigs' queued refreshes
        e.reloader->stop();
        e.scheduler.stop();
    }
    stop_kernel_cache(filesystem, e.registry->served_feed());
    fuse_remove_signal_handlers(se);
    fuse_session_unmount(se);
    fuse_session_destroy(se);
    // Only now: a loop that ends early (SIGTERM during startup) may drop the
    // request of the announcer's stat() unanswered, and that stat returns
    // only once the session's device is closed.
    stopping = true;
    announcer.join();
    if (out.lost) {
        spdlog::warn(
            "the mount at {} went away while serving (unmounted from outside): "
            "keeping the files there fresh in files mode until SIGTERM",
            options.mountpoint);
        return out;
    }
    spdlog::info("unmounted {}", options.mountpoint);
    const bool clean = rc == SIGINT || rc == SIGTERM || rc == SIGHUP;
    out.exit_status = clean ? 0 : 1;
    return out;
}

/// Serves the rig files through the mount, or files mode where there is
/// none.
int serve_front_ends(Engine& e, const DaemonOptions& options, ReadinessPipe& ready) {
    if (options.files_only) return serve_files(e, options, false, ready);
    const MountOutcome mount = serve_mount(e, options, ready);
    if (mount.lost) return serve_files(e, options, true, ready);
    if (mount.mounted) return mount.exit_status;
    if (options.require_mount) {
        spdlog::error("cannot mount at {}: {} (--require-mount: not falling back to files mode)",
                      options.mountpoint, mount.problem);
        return 1;
    }
    spdlog::warn(
        "cannot mount at {}: {}; serving files mode over {} instead (the files are "
        "renewed before expiry; --require-mount exits instead)",
        options.mountpoint, mount.problem, options.mountpoint);
    return serve_files(e, options, false, ready);
}

int serve(const std::shared_ptr<const Config>& config, const DaemonOptions& options,
          ReadinessPipe& ready) {
    const std::unique_ptr<Engine> engine = make_engine(config, options);
    if (!engine) return 1;
    ServiceNotifier& service = ready.service();
    engine->reloader->set_reload_hooks([&service] { service.reloading(); },
                                       [&service] { service.reloaded(); });
    if (service.watchdog_interval_s() > 0) {
        // Pings from the scheduler's own loop: a wedged scheduler goes quiet
        // and systemd restarts the daemon. Twice per interval (sd_notify(3)).
        engine->scheduler.set_heartbeat([&service] { service.watchdog(); },
                                        service.watchdog_interval_s() / 2);
    }
    {
        // Counts of rig states, never a token; stopped before the engine goes.
        const DaemonSignalsBlocked blocked;
        service.start_status([&e = *engine] {
            return status_line(*e.registry->rigs(), e.files_mode ? "files" : "mount",
                               e.clock.now());
        });
    }
    // The credential helper answers beside whichever front end serves the
    // files. Its threads block the stop signals themselves.
    std::unique_ptr<HelperServer> helper = start_helper_server(*engine, options.mountpoint);
    const int rc = serve_front_ends(*engine, options, ready);
    service.stop_status();
    helper.reset();  // stops answering before the engine goes
    // Replaced tokens already due go now, within one request's timeout in
    // all; the ones still in use, or not yet unused for long enough, stay.
    engine->revoker->stop();
    engine->revoker->revoke_due(engine->clock.now(), config->source.request_timeout_s);
    return rc;
}

}  // namespace

int run_daemon(Config moved, const DaemonOptions& options) {
    // The one copy of the config for the daemon's life: the rigs refer into
    // it (at 100,000 rigs a second copy of the rig list costs ~70 MB).
    const auto shared = std::make_shared<const Config>(std::move(moved));
    const Config& config = *shared;
    const std::string problem = options.files_only
                                    ? describe_files_dir_problem(options.mountpoint)
                                    : describe_mountpoint_problem(options.mountpoint);
    if (!problem.empty()) {
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
    ServiceNotifier service;
    ReadinessPipe ready(fds[1], service);
    const int rc = serve(shared, options, ready);
    ready.report(1);  // a no-op once readiness was reported
    return rc;
}

}  // namespace credfs
