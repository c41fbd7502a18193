// The service manager's view (systemd, Type=notify): the daemon run in the
// foreground with $NOTIFY_SOCKET naming a datagram socket the test binds,
// as systemd would run it, and what arrives there (sd_notify(3)): READY=1
// once every rig file serves a valid token, STATUS= lines of counts (never
// a token), WATCHDOG=1 pings with $WATCHDOG_USEC, STOPPING=1 on SIGTERM.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

/// An AF_UNIX datagram socket bound at a path, as systemd's notify socket.
class NotifySocket {
  public:
    explicit NotifySocket(std::string path) : path_(std::move(path)) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (path_.size() >= sizeof addr.sun_path) throw std::runtime_error("path too long");
        std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            throw std::runtime_error("bind " + path_ + ": " + std::strerror(errno));
        }
    }
    ~NotifySocket() {
        ::close(fd_);
        ::unlink(path_.c_str());
    }
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    const std::string& path() const { return path_; }

    /// Receives datagrams until one holds the line `want` (exactly) or
    /// `timeout` passes; every message received is kept. True when found.
    bool wait_for(const std::string& want, std::chrono::milliseconds timeout = 30s) {
        return wait_for_line([&](const std::string& line) { return line == want; }, timeout);
    }
    /// Like wait_for, for a line `match` accepts.
    template <class Match>
    bool wait_for_line(Match match, std::chrono::milliseconds timeout = 30s) {
        const auto deadline = SteadyClock::now() + timeout;
        size_t seen = 0;
        while (true) {
            for (; seen < lines_.size(); ++seen) {
                if (match(lines_[seen])) return true;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - SteadyClock::now());
            if (left.count() <= 0) return false;
            receive(static_cast<int>(left.count()));
        }
    }
    /// Receives whatever is queued now, without waiting.
    void drain() {
        while (receive(0)) {
        }
    }
    /// Every line received so far, in order (a datagram may carry several).
    const std::vector<std::string>& lines() const { return lines_; }
    int count(const std::string& line) const {
        return static_cast<int>(std::count(lines_.begin(), lines_.end(), line));
    }
    std::string all() const {
        std::string out;
        for (const auto& l : lines_) out += l + "\n";
        return out;
    }

  private:
    bool receive(int timeout_ms) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) return false;
        char buf[4096];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) return false;
        const std::string msg(buf, static_cast<size_t>(n));
        for (size_t at = 0; at < msg.size();) {
            size_t end = msg.find('\n', at);
            if (end == std::string::npos) end = msg.size();
            lines_.push_back(msg.substr(at, end - at));
            at = end + 1;
        }
        return true;
    }

    std::string path_;
    int fd_ = -1;
    std::vector<std::string> lines_;
};

RefreshParams long_lived() {
    RefreshParams p;
    p.margin_s = 60;
    p.min_ttl_s = 30;
    return p;
}

const std::vector<RigSpec> kRigs = {{"rig-a", ""}, {"rig-b", ""}, {"rig-c", ""}};

class NotifyTest : public MountTest {
  protected:
    void SetUp() override { fake_.set_ttl(3600); }

    /// Starts the daemon (-f) with $NOTIFY_SOCKET and `env` set, inside
    /// `wrapper`, waiting for nothing: the socket says when it serves.
    void start_notified(std::vector<std::string> env, bool files_only = false,
                        std::vector<std::string> wrapper = {}) {
        harness_.write_jwt(kJwt);
        harness_.write_config(fake_.base_url(), long_lived(), kRigs);
        StartOptions options;
        options.wrapper = {"env", "NOTIFY_SOCKET=" + socket_.path()};
        options.wrapper.insert(options.wrapper.end(), env.begin(), env.end());
        options.wrapper.insert(options.wrapper.end(), wrapper.begin(), wrapper.end());
        options.files_only = files_only;
        options.wait = StartOptions::Wait::Nothing;
        ASSERT_TRUE(harness_.start(options));
        mounted_once_ = true;
    }

    /// Every rig file, read now, holds a token the fake issued and still
    /// counts valid.
    void expect_every_rig_file_fresh() {
        for (const auto& rig : kRigs) {
            const ReadResult r = read_whole_file(harness_.file(rig.id));
            ASSERT_EQ(r.error, 0) << rig.id;
            const auto token = token_from_line(r.data);
            ASSERT_TRUE(token.has_value()) << rig.id << ": " << r.data;
            EXPECT_TRUE(fake_.is_valid(*token)) << rig.id;
        }
    }

    /// No line that went to the service manager holds a token or the JWT.
    void expect_no_secret_sent() {
        socket_.drain();
        const std::string sent = socket_.all();
        for (const auto& issued : fake_.issued()) {
            EXPECT_EQ(sent.find(issued.token), std::string::npos) << "a token went to systemd";
        }
        EXPECT_EQ(sent.find(kJwt), std::string::npos);
    }

    /// SIGTERM: STOPPING=1 was sent before the process exited 0.
    void expect_stopping_then_exit_zero() {
        harness_.stop();
        ASSERT_TRUE(harness_.exit_status().has_value());
        const int status = *harness_.exit_status();
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_wait_status(status);
        // Sent by the process itself: once it is reaped, it is queued here.
        socket_.drain();
        EXPECT_EQ(socket_.count("STOPPING=1"), 1) << socket_.all();
    }

    NotifySocket socket_{harness_.root() + "/notify.sock"};
};

bool is_status(const std::string& line) { return line.rfind("STATUS=", 0) == 0; }

TEST_F(NotifyTest, ReadyOnceEveryRigServesThenStatusThenStoppingOnSigterm) {
    ASSERT_NO_FATAL_FAILURE(start_notified({}));
    ASSERT_TRUE(socket_.wait_for("READY=1")) << socket_.all() << harness_.diagnostics();
    ASSERT_NO_FATAL_FAILURE(expect_every_rig_file_fresh());
    EXPECT_TRUE(socket_.wait_for("STATUS=serving 3 rigs: 3 ok, 0 stale, 0 failing"))
        << socket_.all();
    EXPECT_EQ(socket_.count("READY=1"), 1);
    EXPECT_EQ(socket_.count("WATCHDOG=1"), 0);  // no WATCHDOG_USEC: no watchdog
    ASSERT_NO_FATAL_FAILURE(expect_stopping_then_exit_zero());
    expect_no_secret_sent();
}

// systemctl reload: RELOADING=1 (with the monotonic time systemd 253's
// notify-reload asks for), then READY=1 again once the reload is done.
TEST_F(NotifyTest, SighupReloadIsReloadingThenReady) {
    ASSERT_NO_FATAL_FAILURE(start_notified({}));
    ASSERT_TRUE(socket_.wait_for("READY=1")) << socket_.all() << harness_.diagnostics();
    ASSERT_EQ(::kill(harness_.pid(), SIGHUP), 0);
    ASSERT_TRUE(socket_.wait_for("RELOADING=1")) << socket_.all() << harness_.diagnostics();
    EXPECT_TRUE(socket_.wait_for_line(
        [](const std::string& line) { return line.rfind("MONOTONIC_USEC=", 0) == 0; }));
    int ready = 0;
    EXPECT_TRUE(socket_.wait_for_line([&](const std::string& line) {
        return line == "READY=1" && ++ready == 2;
    })) << socket_.all();
    EXPECT_TRUE(wait_until(
        [&] { return harness_.run_log_text().find("reloaded ") != std::string::npos; }, 20s));
    ASSERT_NO_FATAL_FAILURE(expect_stopping_then_exit_zero());
}

TEST_F(NotifyTest, WatchdogPingsComeWhileServing) {
    ASSERT_NO_FATAL_FAILURE(start_notified({"WATCHDOG_USEC=400000"}));
    ASSERT_TRUE(socket_.wait_for("READY=1")) << socket_.all() << harness_.diagnostics();
    int pings = 0;
    EXPECT_TRUE(socket_.wait_for_line([&](const std::string& line) {
        return line == "WATCHDOG=1" && ++pings >= 5;
    })) << socket_.all();
    ASSERT_NO_FATAL_FAILURE(expect_stopping_then_exit_zero());
    expect_no_secret_sent();
}

// systemd sets WATCHDOG_PID to the process it watches; the shell's $$ is
// the daemon's pid once it execs the daemon.
TEST_F(NotifyTest, WatchdogPingsWithWatchdogPidNamingTheDaemon) {
    ASSERT_NO_FATAL_FAILURE(
        start_notified({"WATCHDOG_USEC=400000", "sh", "-c", "WATCHDOG_PID=$$ exec \"$@\"", "sh"}));
    ASSERT_TRUE(socket_.wait_for("READY=1")) << socket_.all() << harness_.diagnostics();
    int pings = 0;
    EXPECT_TRUE(socket_.wait_for_line([&](const std::string& line) {
        return line == "WATCHDOG=1" && ++pings >= 5;
    })) << socket_.all();
    ASSERT_NO_FATAL_FAILURE(expect_stopping_then_exit_zero());
}

TEST_F(NotifyTest, FilesModeReadyOnceEveryRigFileHoldsItsToken) {
    ASSERT_NO_FATAL_FAILURE(start_notified({}, /*files_only=*/true));
    ASSERT_TRUE(socket_.wait_for("READY=1")) << socket_.all() << harness_.diagnostics();
    ASSERT_NO_FATAL_FAILURE(expect_every_rig_file_fresh());
    EXPECT_TRUE(socket_.wait_for("STATUS=serving 3 rigs: 3 ok, 0 stale, 0 failing (files mode)"))
        << socket_.all();
    ASSERT_NO_FATAL_FAILURE(expect_stopping_then_exit_zero());
    expect_no_secret_sent();
}

// The mount refused (no FUSE in a private mount namespace): files mode's
// readiness is READY=1 all the same.
TEST_F(NotifyTest, RefusedMountFallsBackToFilesModeAndIsReady) {
    harness_.allow_log_line("cannot mount at");
    ASSERT_NO_FATAL_FAILURE(
        start_notified({}, false,
                       {"unshare", "--mount", "--propagation", "private", "sh", "-c",
                        "mount --bind /dev/null /dev/fuse && exec \"$@\"", "sh"}));
    ASSERT_TRUE(socket_.wait_for("READY=1")) << socket_.all() << harness_.diagnostics();
    ASSERT_NO_FATAL_FAILURE(expect_every_rig_file_fresh());
    EXPECT_TRUE(socket_.wait_for_line([](const std::string& line) {
        return is_status(line) && line.find("(files mode)") != std::string::npos;
    })) << socket_.all();
    ASSERT_NO_FATAL_FAILURE(expect_stopping_then_exit_zero());
}

// A socket nobody listens on: every send fails; the daemon logs that once
// and serves as usual.
TEST_F(NotifyTest, ANotifySocketThatRefusesIsLoggedOnceAndNeverFatal) {
    harness_.write_jwt(kJwt);
    harness_.write_config(fake_.base_url(), long_lived(), kRigs);
    StartOptions options;
    options.wrapper = {"env", "NOTIFY_SOCKET=" + harness_.root() + "/nobody-listens.sock",
                       "WATCHDOG_USEC=400000"};
    ASSERT_TRUE(harness_.start(options));
    mounted_once_ = true;
    ASSERT_NO_FATAL_FAILURE(expect_every_rig_file_fresh());
    // READY=1 or a STATUS= failed first; STOPPING=1 (and pings every
    // 0.1-0.2 s) fail after this line was seen: a second line would show.
    ASSERT_TRUE(wait_until(
        [&] {
            return harness_.run_log_text().find("cannot notify the service manager") !=
                   std::string::npos;
        },
        20s));
    harness_.stop();
    ASSERT_TRUE(harness_.exit_status().has_value());
    EXPECT_EQ(*harness_.exit_status(), 0) << describe_wait_status(*harness_.exit_status());
    const std::string log = harness_.run_log_text();
    size_t n = 0;
    for (size_t at = 0;
         (at = log.find("cannot notify the service manager", at)) != std::string::npos; ++at) {
        ++n;
    }
    EXPECT_EQ(n, 1u) << log;
}

}  // namespace
}  // namespace credfs::itest
