#include "credfs/daemon.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>

#include "credfs/filesystem.hpp"
#include "credfs/fuse_adapter.hpp"
#include "credfs/refresh_scheduler.hpp"
#include "credfs/rig_registry.hpp"

namespace credfs {

namespace {

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
    if (::stat(mountpoint.c_str(), &st) == 0) {
        return S_ISDIR(st.st_mode) ? "" : "mountpoint " + mountpoint + ": not a directory";
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

/// Polls the mountpoint from a plain thread (never a loop thread: that would
/// deadlock) until the kernel routes it to this daemon (its device changes),
/// then reports readiness and, for a detached daemon, lets go of the terminal.
void announce_when_serving(const std::string& mountpoint, dev_t before, bool detach,
                           const std::atomic<bool>& stopping, ReadinessPipe& ready) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    struct stat st {};
    while (!stopping && std::chrono::steady_clock::now() < deadline) {
        if (::stat(mountpoint.c_str(), &st) == 0 && st.st_dev != before) {
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

struct FuseArgs {
    fuse_args args = FUSE_ARGS_INIT(0, nullptr);
    FuseArgs() {
        fuse_opt_add_arg(&args, "gastown-credfs");
        // default_permissions: the kernel enforces the 0600 modes we report.
        fuse_opt_add_arg(&args, "-odefault_permissions,fsname=gastown-credfs,subtype=credfs");
    }
    ~FuseArgs() { fuse_opt_free_args(&args); }
};

int serve(const Config& config, const DaemonOptions& options, ReadinessPipe& ready) {
    struct stat before {};
    ::stat(options.mountpoint.c_str(), &before);
    SystemClock clock;
    auto source = make_token_source(config.source, clock);
    RefreshScheduler scheduler(clock);
    RigRegistry registry(config, *source, clock, default_random(), scheduler.notifier());
    Filesystem filesystem(registry, ::getuid(), ::getgid(), clock.now());

    FuseArgs args;
    fuse* f = fuse_new(&args.args, &fuse_ops(), sizeof(fuse_operations), &filesystem);
    if (f == nullptr) {
        spdlog::error("cannot start FUSE (see the line above)");
        return 1;
    }
    if (fuse_mount(f, options.mountpoint.c_str()) != 0) {
        spdlog::error("cannot mount at {}: check /dev/fuse, fusermount3 and permissions",
                      options.mountpoint);
        fuse_destroy(f);
        return 1;
    }
    fuse_session* se = fuse_get_session(f);
    fuse_set_signal_handlers(se);
    spdlog::info("mounted {} rig(s) at {}, source {}", registry.rigs().size(), options.mountpoint,
                 source->type_name());
    scheduler.start(registry);
    std::atomic<bool> stopping{false};
    std::thread announcer(announce_when_serving, options.mountpoint, before.st_dev,
                          !options.foreground, std::cref(stopping), std::ref(ready));

    fuse_loop_config* loop_config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(loop_config, 0);
    const int rc = fuse_loop_mt(f, loop_config);
    fuse_loop_cfg_destroy(loop_config);

    stopping = true;
    announcer.join();
    scheduler.stop();
    fuse_remove_signal_handlers(se);
    fuse_unmount(f);
    fuse_destroy(f);
    spdlog::info("unmounted {}", options.mountpoint);
    return rc == 0 ? 0 : 1;
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
    }
    ReadinessPipe ready(fds[1]);
    const int rc = serve(config, options, ready);
    ready.report(1);  // a no-op once readiness was reported
    return rc;
}

}  // namespace credfs
