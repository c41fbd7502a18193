#include "credfs/sources/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

namespace credfs {

namespace {

std::string error_text(int err) { return std::error_code(err, std::generic_category()).message(); }

struct Pipe {
    int fd[2] = {-1, -1};
    int error = 0;
    Pipe() {
        if (::pipe2(fd, O_CLOEXEC) != 0) error = errno;
    }
    ~Pipe() {
        close_read();
        close_write();
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    void close_read() { close_end(0); }
    void close_write() { close_end(1); }

  private:
    void close_end(int i) {
        if (fd[i] >= 0) ::close(fd[i]);
        fd[i] = -1;
    }
};

std::vector<char*> environment(const SubprocessOptions& options, std::vector<std::string>& added) {
    added = options.add_env;
    std::vector<char*> envp;
    const std::string& drop = options.drop_env_prefix;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        if (drop.empty() || std::strncmp(*e, drop.c_str(), drop.size()) != 0) envp.push_back(*e);
    }
    for (auto& s : added) envp.push_back(s.data());
    envp.push_back(nullptr);
    return envp;
}

// Reads both pipes until EOF, the deadline or too much stdout. A child that
// fills one pipe while we block on the other would never exit: poll both.
void collect(int out_fd, int err_fd, const SubprocessOptions& options, SubprocessResult& r) {
    const bool bounded = options.timeout_s > 0;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(options.timeout_s);
    std::array<pollfd, 2> fds{{{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}}};
    std::array<std::string*, 2> sinks{&r.out, &r.err};
    const std::array<size_t, 2> caps{options.max_stdout, options.max_stderr};
    int open_fds = 2;
    std::array<char, 4096> buf{};
    while (open_fds > 0) {
        int wait_ms = -1;
        if (bounded) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                r.timed_out = true;
                return;
            }
            wait_ms = static_cast<int>(left.count());
        }
        if (::poll(fds.data(), fds.size(), wait_ms) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        for (size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
            const ssize_t n = ::read(fds[i].fd, buf.data(), buf.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                fds[i].fd = -1;
                --open_fds;
                continue;
            }
            std::string& sink = *sinks[i];
            if (i == 0 && sink.size() + static_cast<size_t>(n) > caps[0]) {
                r.out_too_big = true;
                return;
            }
            if (sink.size() < caps[i]) sink.append(buf.data(), static_cast<size_t>(n));
        }
    }
}

}  // namespace

int SubprocessResult::exit_code() const {
    if (!start_error.empty() || timed_out || out_too_big || !WIFEXITED(wait_status)) return -1;
    return WEXITSTATUS(wait_status);
}

SubprocessResult run_subprocess(const std::vector<std::string>& argv,
                                const SubprocessOptions& options) {
    SubprocessResult r;
    if (argv.empty()) {
        r.start_error = "no command";
        return r;
    }
    Pipe out, err;
    if (out.error != 0 || err.error != 0) {
        r.start_error = "pipe: " + error_text(out.error != 0 ? out.error : err.error);
        return r;
    }
    std::vector<std::string> args = argv;
    std::vector<char*> argp;
    argp.reserve(args.size() + 1);
    for (auto& a : args) argp.push_back(a.data());
    argp.push_back(nullptr);
    std::vector<std::string> added;
    std::vector<char*> envp = environment(options, added);

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out.fd[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err.fd[1], STDERR_FILENO);
    posix_spawnattr_init(&attr);
    // The daemon ignores SIGPIPE; an ignored disposition survives exec, and
    // a child writing to a closed pipe should die of it as usual.
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    short flags = POSIX_SPAWN_SETSIGDEF;
    if (options.new_process_group) {
        posix_spawnattr_setpgroup(&attr, 0);
        flags |= POSIX_SPAWN_SETPGROUP;
    }
    posix_spawnattr_setflags(&attr, flags);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, argp[0], &actions, &attr, argp.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    // Our copies of the write ends must go, or the reads never see EOF.
    out.close_write();
    err.close_write();
    if (rc != 0) {
        r.start_error = error_text(rc);
        return r;
    }
    collect(out.fd[0], err.fd[0], options, r);
    if (r.timed_out || r.out_too_big) ::kill(options.new_process_group ? -pid : pid, SIGKILL);
    while (::waitpid(pid, &r.wait_status, 0) < 0 && errno == EINTR) {
    }
    return r;
}

CommandOutput run_command(const std::vector<std::string>& argv) {
    const SubprocessResult r = run_subprocess(argv);
    CommandOutput out;
    if (!r.start_error.empty()) {
        out.err = argv.empty() ? r.start_error : "cannot run " + argv[0] + ": " + r.start_error;
        return out;
    }
    out.exit_code = r.exit_code();
    out.out = r.out;
    out.err = r.err;
    return out;
}

}  // namespace credfs
