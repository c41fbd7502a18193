#include "daemon_harness.hpp"

#include <fcntl.h>
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

}  // namespace

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

DaemonHarness::DaemonHarness() {
    ignore_sigpipe_once();
    // CREDFS_TEST_TMPDIR: another filesystem for the mount and its backing
    // files (benchmarks compare ext4 with tmpfs); /tmp when unset.
    const char* base = std::getenv("CREDFS_TEST_TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/credfs-it-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
        throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
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
    if (const auto result = check(); !result) {
        if (::testing::UnitTest::GetInstance()->current_test_info() != nullptr) {
            ADD_FAILURE() << result.message();
        } else {
            std::cerr << "daemon_harness: " << result.message() << "\n";
        }
    }
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
    if (refresh.publish_delay_s) r["publish_delay_s"] = *refresh.publish_delay_s;
    if (refresh.mandatory_s) r["mandatory_s"] = *refresh.mandatory_s;
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
    StartOptions options;
    options.timeout = timeout;
    return start(options);
}

::testing::AssertionResult DaemonHarness::start_files_mode(std::vector<std::string> extra_args,
                                                           std::vector<std::string> wrapper) {
    StartOptions options;
    options.wrapper = std::move(wrapper);
    options.extra_args = std::move(extra_args);
    options.files_only = true;
    options.wait = StartOptions::Wait::FilesServing;
    return start(options);
}

::testing::AssertionResult DaemonHarness::start(const StartOptions& options) {
    if (pid_ > 0 && !exit_status_) return ::testing::AssertionFailure() << "already started";
    // CREDFS_DAEMON_BINARY: another build of the daemon under the same
    // harness (bench/run.sh --daemon compares two commits' daemons).
    const char* other = std::getenv("CREDFS_DAEMON_BINARY");
    const std::string binary = other != nullptr && *other != '\0' ? other : CREDFS_BINARY;
    if (::access(binary.c_str(), X_OK) != 0) {
        return ::testing::AssertionFailure() << "daemon binary " << binary << " not executable";
    }
    const int out_fd = ::open(output_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out_fd < 0 || null_fd < 0) {
        return ::testing::AssertionFailure() << "cannot open " << output_path_ << " or /dev/null";
    }
    std::vector<std::string> argv = options.wrapper;
    for (const auto& a : {binary, std::string("--config"), config_path_, std::string("-f")}) {
        argv.push_back(a);
    }
    argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
    if (options.files_only) argv.emplace_back("--files");
    argv.push_back(mountpoint_);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);

    // The log file is appended to across runs; this run's lines start here.
    run_log_offset_ = log_text().size();
    exit_status_.reset();
    runs_.push_back(Run{next_expected_.value_or(ExpectedExit::exit_code(0)), std::nullopt});
    next_expected_.reset();
    pid_ = ::fork();
    if (pid_ == 0) {
        // If the test process dies without teardown, the daemon still gets
        // told to unmount and go (a wrapper that execs keeps the setting).
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        ::dup2(null_fd, 0);
        ::dup2(out_fd, 1);
        ::dup2(out_fd, 2);
        close_inherited_fds();
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    ::close(out_fd);
    ::close(null_fd);
    if (pid_ < 0) return ::testing::AssertionFailure() << "fork: " << std::strerror(errno);
    if (options.wait == StartOptions::Wait::Nothing) return ::testing::AssertionSuccess();

    const bool files = options.wait == StartOptions::Wait::FilesServing;
    const std::string ready_line = "serving at " + mountpoint_ + " (files mode)";
    const auto ready = [&] {
        return files ? run_log_text().find(ready_line) != std::string::npos : mounted();
    };
    const auto deadline = SteadyClock::now() + options.timeout;
    while (SteadyClock::now() < deadline) {
        if (ready()) return ::testing::AssertionSuccess();
        if (!alive()) {
            const int status = exit_status_.value_or(-1);
            stop();
            return ::testing::AssertionFailure()
                   << "daemon exited before " << (files ? "serving files mode" : "mounting")
                   << " (wait status " << status << ")\n"
                   << diagnostics();
        }
        std::this_thread::sleep_for(20ms);
    }
    stop();
    return ::testing::AssertionFailure() << (files ? "no \"" + ready_line + "\" in the log"
                                                   : "mount did not appear at " + mountpoint_)
                                         << " within " << options.timeout.count() << " ms\n"
                                         << diagnostics();
}

bool DaemonHarness::alive() {
    if (pid_ <= 0 || exit_status_) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        record_exit(status);
        return false;
    }
    return r == 0;
}

void DaemonHarness::record_exit(int wait_status) {
    exit_status_ = wait_status;
    if (!runs_.empty()) runs_.back().wait_status = wait_status;
}

void DaemonHarness::allow_log_line(const std::string& pattern) {
    allowed_.emplace_back(pattern);
    allowed_patterns_.push_back(pattern);
}

void DaemonHarness::expect_killed_by_signal(int sig) {
    const auto e = ExpectedExit::signal(sig);
    if (pid_ > 0 && !exit_status_ && !runs_.empty()) {
        runs_.back().expected = e;
    } else {
        next_expected_ = e;
    }
}

void DaemonHarness::expect_exit_code(int code) {
    const auto e = ExpectedExit::exit_code(code);
    if (pid_ > 0 && !exit_status_ && !runs_.empty()) {
        runs_.back().expected = e;
    } else {
        next_expected_ = e;
    }
}

::testing::AssertionResult DaemonHarness::check() const {
    std::string problems;
    for (std::size_t i = 0; i < runs_.size(); ++i) {
        if (!runs_[i].wait_status) continue;
        const std::string why = exit_mismatch(runs_[i].expected, *runs_[i].wait_status);
        if (!why.empty()) problems += "run " + std::to_string(i + 1) + ": " + why + "\n";
    }
    for (const auto& [name, path] : {std::pair{"log", log_path_}, {"stderr", output_path_}}) {
        for (const auto& line : unexpected_lines(slurp(path), allowed_)) {
            problems += std::string("unexpected line in the daemon's ") + name + ": " + line + "\n";
        }
    }
    if (problems.empty()) return ::testing::AssertionSuccess();
    std::string allowed = allowed_patterns_.empty() ? "(none)" : "";
    for (const auto& p : allowed_patterns_) allowed += "\n  " + p;
    return ::testing::AssertionFailure()
           << "daemon teardown check failed:\n"
           << problems << "allowed log lines: " << allowed << "\n"
           << "---- daemon output (" << output_path_ << ", tail) ----\n"
           << tail_lines(output_text(), 40) << "----\n";
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

std::string DaemonHarness::run_log_text() const {
    const std::string all = log_text();
    return run_log_offset_ <= all.size() ? all.substr(run_log_offset_) : all;
}

std::string DaemonHarness::output_text() const { return slurp(output_path_); }

std::string DaemonHarness::diagnostics() const {
    return "---- daemon output (" + output_path_ + ") ----\n" + tail_lines(output_text(), 40) +
           "---- daemon log (" + log_path_ + ", tail) ----\n" + tail_lines(log_text(), 80) +
           "----\n";
}

}  // namespace credfs::itest
