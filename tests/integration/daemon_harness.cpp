#include "daemon_harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json/json.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef CREDFS_BINARY
#error "CREDFS_BINARY must name the gastown-credfs executable"
#endif

namespace credfs::itest {
namespace {

constexpr char kLinePrefix[] = "https://x-access-token:";
constexpr char kLineSuffix[] = "@github.com\n";

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    return buf.str();
}

std::string tail_lines(const std::string& text, std::size_t lines) {
    std::vector<std::string> all;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) all.push_back(line);
    std::string out;
    for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
        out += all[i] + "\n";
    }
    return out;
}

void write_atomically(const std::string& path, const std::string& content, mode_t mode) {
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) throw std::runtime_error("cannot create " + tmp + ": " + std::strerror(errno));
    const bool ok =
        ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    }
}

// A child must not inherit the test's descriptors: an inherited listening
// socket of the fake upstream would keep accepting connections after the
// fake stops, and the daemon would see a hang instead of "connection refused".
void close_inherited_fds() {
    if (::close_range(3, ~0U, 0) != 0) {
        for (int fd = 3; fd < 4096; ++fd) ::close(fd);
    }
}

void ignore_sigpipe_once() {
    // Writing to a child that exited early must be an error, not a signal.
    static const bool done = [] {
        std::signal(SIGPIPE, SIG_IGN);
        return true;
    }();
    (void)done;
}

}  // namespace

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll) {
    const auto deadline = SteadyClock::now() + timeout;
    while (true) {
        if (condition()) return true;
        if (SteadyClock::now() >= deadline) return condition();
        std::this_thread::sleep_for(poll);
    }
}

ReadResult read_whole_file(const std::string& path) {
    ReadResult result;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        result.error = errno;
        return result;
    }
    std::array<char, 4096> buf{};
    while (true) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            result.error = errno;
            break;
        }
        if (n == 0) break;
        result.data.append(buf.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
    return result;
}

std::optional<std::string> token_from_line(const std::string& content) {
    const std::string prefix = kLinePrefix;
    const std::string suffix = kLineSuffix;
    if (content.size() <= prefix.size() + suffix.size()) return std::nullopt;
    if (!content.starts_with(prefix) || !content.ends_with(suffix)) return std::nullopt;
    std::string token =
        content.substr(prefix.size(), content.size() - prefix.size() - suffix.size());
    for (const unsigned char c : token) {
        if (c <= ' ' || c == '@' || c == ':' || c == '/' || c == 0x7f) return std::nullopt;
    }
    return token;
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input,
                          std::chrono::milliseconds timeout) {
    ignore_sigpipe_once();
    ProcessResult result;
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
        ::pipe2(err_pipe, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    }
    // Everything the child touches is prepared before fork: after fork in a
    // threaded process only async-signal-safe calls are allowed.
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        ::dup2(in_pipe[0], 0);
        ::dup2(out_pipe[1], 1);
        ::dup2(err_pipe[1], 2);
        close_inherited_fds();
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    // Inputs here are a few bytes, far below the pipe buffer: one write
    // cannot block.
    if (!input.empty()) (void)!::write(in_pipe[1], input.data(), input.size());
    ::close(in_pipe[1]);

    const auto deadline = SteadyClock::now() + timeout;
    std::array<pollfd, 2> fds{{{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}}};
    std::array<std::string*, 2> sinks{&result.output, &result.error};
    int open_fds = 2;
    while (open_fds > 0) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
        if (left.count() <= 0) {
            result.timed_out = true;
            break;
        }
        if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            char buf[4096];
            const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                sinks[i]->append(buf, static_cast<std::size_t>(n));
            } else {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            }
        }
    }
    for (auto& f : fds) {
        if (f.fd >= 0) ::close(f.fd);
    }
    if (result.timed_out) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    return result;
}

DaemonHarness::DaemonHarness() {
    ignore_sigpipe_once();
    char tmpl[] = "/tmp/credfs-it-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
        throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    }
    // mountinfo shows resolved paths; compare against the resolved one.
    root_ = std::filesystem::canonical(tmpl).string();
    mountpoint_ = root_ + "/mnt";
    jwt_path_ = root_ + "/container.jwt";
    config_path_ = root_ + "/config.json";
    log_path_ = root_ + "/daemon.log";
    output_path_ = root_ + "/daemon.out";
    std::filesystem::create_directory(mountpoint_);
}

DaemonHarness::~DaemonHarness() {
    stop();
    if (mounted()) {
        std::cerr << "daemon_harness: " << mountpoint_ << " is still mounted; leaving " << root_
                  << " in place\n";
        return;
    }
    if (std::getenv("CREDFS_KEEP_TEST_DIRS") != nullptr) {
        std::cerr << "daemon_harness: keeping " << root_ << "\n";
        return;
    }
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
}

void DaemonHarness::write_jwt(const std::string& jwt) const {
    write_atomically(jwt_path_, jwt, 0600);
}

void DaemonHarness::write_config(const std::string& api_url, const RefreshParams& refresh,
                                 const std::vector<RigSpec>& rigs) const {
    Json::Value cfg;
    Json::Value& source = cfg["source"];
    source["type"] = "gastown";
    source["api_url"] = api_url;
    source["town_id"] = "t1";
    source["container_token_file"] = jwt_path_;
    // A stopped fake refuses connections at once; these only bound a hung one.
    source["connect_timeout_s"] = 2;
    source["request_timeout_s"] = 5;
    Json::Value& r = cfg["refresh"];
    r["margin_s"] = refresh.margin_s;
    r["min_ttl_s"] = refresh.min_ttl_s;
    r["jitter_s"] = refresh.jitter_s;
    r["read_timeout_s"] = refresh.read_timeout_s;
    r["backoff_initial_s"] = refresh.backoff_initial_s;
    r["backoff_max_s"] = refresh.backoff_max_s;
    r["assumed_ttl_s"] = refresh.assumed_ttl_s;
    Json::Value& list = cfg["rigs"];
    list = Json::Value(Json::arrayValue);
    for (const auto& rig : rigs) {
        Json::Value v;
        v["id"] = rig.id;
        if (!rig.file.empty()) v["file"] = rig.file;
        if (!rig.host.empty()) v["host"] = rig.host;
        list.append(v);
    }
    cfg["log"]["level"] = "debug";
    cfg["log"]["file"] = log_path_;
    Json::StreamWriterBuilder builder;
    write_atomically(config_path_, Json::writeString(builder, cfg) + "\n", 0600);
}

::testing::AssertionResult DaemonHarness::start(std::chrono::milliseconds timeout) {
    if (pid_ > 0 && !exit_status_) return ::testing::AssertionFailure() << "already started";
    const std::string binary = CREDFS_BINARY;
    if (::access(binary.c_str(), X_OK) != 0) {
        return ::testing::AssertionFailure() << "daemon binary " << binary << " not executable";
    }
    const int out_fd = ::open(output_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out_fd < 0 || null_fd < 0) {
        return ::testing::AssertionFailure() << "cannot open " << output_path_ << " or /dev/null";
    }
    std::vector<std::string> argv = {binary, "--config", config_path_, "-f", mountpoint_};
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);

    exit_status_.reset();
    pid_ = ::fork();
    if (pid_ == 0) {
        // If the test process dies without teardown, the daemon still gets
        // told to unmount and go.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        ::dup2(null_fd, 0);
        ::dup2(out_fd, 1);
        ::dup2(out_fd, 2);
        close_inherited_fds();
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(out_fd);
    ::close(null_fd);
    if (pid_ < 0) return ::testing::AssertionFailure() << "fork: " << std::strerror(errno);

    const auto deadline = SteadyClock::now() + timeout;
    while (SteadyClock::now() < deadline) {
        if (mounted()) return ::testing::AssertionSuccess();
        if (!alive()) {
            const int status = exit_status_.value_or(-1);
            stop();
            return ::testing::AssertionFailure()
                   << "daemon exited before mounting (wait status " << status << ")\n"
                   << diagnostics();
        }
        std::this_thread::sleep_for(20ms);
    }
    stop();
    return ::testing::AssertionFailure()
           << "mount did not appear at " << mountpoint_ << " within " << timeout.count() << " ms\n"
           << diagnostics();
}

bool DaemonHarness::alive() {
    if (pid_ <= 0 || exit_status_) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        exit_status_ = status;
        return false;
    }
    return r == 0;
}

bool DaemonHarness::reap(std::chrono::milliseconds timeout) {
    return wait_until([this] { return !alive(); }, timeout, 10ms);
}

void DaemonHarness::stop() {
    if (pid_ > 0 && alive()) {
        ::kill(pid_, SIGTERM);
        if (!reap(10s)) {
            std::cerr << "daemon_harness: daemon ignored SIGTERM for 10 s; killing it\n";
            ::kill(pid_, SIGKILL);
            reap(10s);
        }
    }
    if (mounted()) {
        run_process({"fusermount3", "-u", "-z", mountpoint_}, "", 10s);
    }
}

bool DaemonHarness::mounted() const {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        // Fields: id parent major:minor root mountpoint options... - fstype source super
        std::istringstream fields(line);
        std::string id, parent, devno, root, point;
        fields >> id >> parent >> devno >> root >> point;
        if (point != mountpoint_) continue;
        const auto sep = line.find(" - ");
        if (sep != std::string::npos && line.compare(sep + 3, 4, "fuse") == 0) return true;
    }
    return false;
}

std::string DaemonHarness::log_text() const { return slurp(log_path_); }

std::string DaemonHarness::output_text() const { return slurp(output_path_); }

std::string DaemonHarness::diagnostics() const {
    return "---- daemon output (" + output_path_ + ") ----\n" + tail_lines(output_text(), 40) +
           "---- daemon log (" + log_path_ + ", tail) ----\n" + tail_lines(log_text(), 80) +
           "----\n";
}

}  // namespace credfs::itest
