#include "credfs/sources/exec_source.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include "credfs/core/log.hpp"
#include "credfs/sources/gastown_source.hpp"

namespace credfs {

namespace {

constexpr size_t kMaxStdout = size_t{64} * 1024;
constexpr size_t kMaxStderr = size_t{4} * 1024;

struct Pipe {
    int fd[2] = {-1, -1};
    Pipe() {
        if (::pipe2(fd, O_CLOEXEC) != 0) {
            throw std::system_error(errno, std::generic_category(), "pipe");
        }
    }
    ~Pipe() { close_all(); }
    void close_all() {
        for (int& f : fd) {
            if (f >= 0) ::close(f);
            f = -1;
        }
    }
};

/// The first lines of the command's stderr, redacted and short, for one log line.
std::string stderr_excerpt(const std::string& err) {
    std::string out;
    int lines = 0;
    for (size_t at = 0; at < err.size() && lines < 3; ++lines) {
        size_t end = err.find('\n', at);
        if (end == std::string::npos) end = err.size();
        out += (out.empty() ? "" : " | ") + err.substr(at, end - at);
        at = end + 1;
    }
    out = redact(printable(out));
    if (out.size() > 300) {
        out.resize(300);
        out += "...";
    }
    return out.empty() ? "" : "; stderr: " + out;
}

struct RunResult {
    std::string out, err;
    int status = 0;
    bool timed_out = false, too_big = false;
};

/// Reads both pipes until EOF or the deadline; kills the process group on
/// timeout or oversized output, then reaps the child.
RunResult collect(pid_t pid, int out_fd, int err_fd, double timeout_s) {
    RunResult r;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    int open_fds = 2;
    char buf[4096];
    while (open_fds > 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            r.timed_out = true;
            break;
        }
        if (::poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
            const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                fds[i].fd = -1;
                --open_fds;
                continue;
            }
            std::string& sink = i == 0 ? r.out : r.err;
            if (i == 0 && sink.size() + static_cast<size_t>(n) > kMaxStdout) r.too_big = true;
            if (sink.size() < (i == 0 ? kMaxStdout : kMaxStderr))
                sink.append(buf, static_cast<size_t>(n));
        }
        if (r.too_big) break;
    }
    if (r.timed_out || r.too_big) ::kill(-pid, SIGKILL);  // its children too
    while (::waitpid(pid, &r.status, 0) < 0 && errno == EINTR) {
    }
    return r;
}

}  // namespace

ExecSource::ExecSource(std::vector<std::string> command, double timeout_s, const Clock& clock)
    : command_(std::move(command)), timeout_s_(timeout_s), clock_(clock) {}

Token ExecSource::fetch(const RigConfig& rig) {
    const std::string who = "rig " + rig.id + ": exec " + printable(command_.front());
    std::vector<std::string> env_strings = {"CREDFS_RIG_ID=" + rig.id,
                                            "CREDFS_RIG_FILE=" + rig.file};
    std::vector<char*> envp;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        if (std::strncmp(*e, "CREDFS_RIG_", 11) != 0) envp.push_back(*e);
    }
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = command_;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    Pipe out, err;
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out.fd[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err.fd[1], STDERR_FILENO);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setpgroup(&attr, 0);  // its own group, so a timeout kills all of it
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        throw SourceError(
            who + ": cannot start: " + std::error_code(rc, std::generic_category()).message());
    }
    ::close(out.fd[1]);
    out.fd[1] = -1;
    ::close(err.fd[1]);
    err.fd[1] = -1;
    const RunResult r = collect(pid, out.fd[0], err.fd[0], timeout_s_);
    if (r.timed_out) {
        throw SourceError(who + ": no answer within " + fmt::format("{:g}", timeout_s_) +
                          " s (killed)" + stderr_excerpt(r.err));
    }
    if (r.too_big) throw SourceError(who + ": stdout over 64 KiB (killed)");
    if (WIFSIGNALED(r.status)) {
        throw SourceError(who + ": killed by signal " + std::to_string(WTERMSIG(r.status)) +
                          stderr_excerpt(r.err));
    }
    if (WEXITSTATUS(r.status) != 0) {
        throw SourceError(who + ": exit status " + std::to_string(WEXITSTATUS(r.status)) +
                          stderr_excerpt(r.err));
    }
    try {
        return parse_gastown_response(r.out, clock_.now());
    } catch (const SourceError& e) {
        throw SourceError(who + ": " + e.what());
    }
}

}  // namespace credfs
