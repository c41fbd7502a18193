#include "credfs/helper/helper_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <string_view>

#include "credfs/helper/helper_server.hpp"

namespace credfs {

namespace {

using Deadline = std::chrono::steady_clock::time_point;

/// Longest answer read: a status document of many rigs, well below this.
constexpr size_t kMaxAnswer = size_t{4} * 1024 * 1024;

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

Deadline after(double seconds) {
    return std::chrono::steady_clock::now() +
           std::chrono::duration_cast<std::chrono::steady_clock::duration>(
               std::chrono::duration<double>(seconds));
}

/// Waits for `events` on `fd` until `deadline`; false on timeout or error.
bool wait_for(int fd, short events, Deadline deadline) {
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now())
                              .count();
        if (left <= 0) return false;
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(left) + 1);
        if (n < 0 && errno == EINTR) continue;
        return n > 0;
    }
}

/// Reads until `done(text)` or EOF (true), or until the deadline or an error
/// (false).
template <class Done>
bool read_until(int fd, std::string& text, Deadline deadline, Done done) {
    char buf[4096];
    while (!done(text)) {
        if (text.size() > kMaxAnswer || !wait_for(fd, POLLIN, deadline)) return false;
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) return false;
        if (n == 0) return true;
        text.append(buf, static_cast<size_t>(n));
    }
    return true;
}

bool send_all(int fd, std::string_view data, Deadline deadline) {
    while (!data.empty()) {
        if (!wait_for(fd, POLLOUT, deadline)) return false;
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

/// The timeout_s of a greeting line, or -1 when it is no version-1 greeting.
int greeting_timeout(std::string_view line) {
    const std::string prefix = std::string(kHelperGreeting) + " timeout_s=";
    if (line.substr(0, prefix.size()) != prefix) return -1;
    const std::string_view digits = line.substr(prefix.size());
    int t = -1;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), t);
    return ec == std::errc() && end == digits.data() + digits.size() && t > 0 ? t : -1;
}

DaemonAnswer failed(std::string why) { return {DaemonAnswer::Outcome::Failed, "", std::move(why)}; }

}  // namespace

std::string default_socket_path(const char* mountpoint_env) {
    if (mountpoint_env == nullptr || *mountpoint_env == '\0') return "/tmp/gastown-creds.sock";
    return socket_for_mountpoint(mountpoint_env);
}

std::string socket_for_mountpoint(std::string mountpoint) {
    while (mountpoint.size() > 1 && mountpoint.back() == '/') mountpoint.pop_back();
    return mountpoint + ".sock";
}

DaemonAnswer ask_daemon(const std::string& socket_path, const std::string& request) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.empty() || socket_path.size() >= sizeof addr.sun_path) return {};
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    const Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    // Non-blocking: a full backlog refuses at once (EAGAIN) rather than block.
    if (fd.get() < 0 ||
        ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        return {};
    }
    std::string text;
    const auto has_line = [](const std::string& t) { return t.find('\n') != std::string::npos; };
    if (!read_until(fd.get(), text, after(kGreetingTimeoutS), has_line) || !has_line(text)) {
        return {};  // refused (another uid, too many connections) or stuck
    }
    const size_t eol = text.find('\n');
    const int timeout_s = greeting_timeout(std::string_view(text).substr(0, eol));
    if (timeout_s < 0) return failed("socket " + socket_path + ": not a gastown-credfs 1 socket");
    std::string answer = text.substr(eol + 1);
    const Deadline deadline = after(timeout_s);
    if (!send_all(fd.get(), request, deadline)) {
        return failed("socket " + socket_path + ": the daemon closed the connection");
    }
    ::shutdown(fd.get(), SHUT_WR);
    if (!read_until(fd.get(), answer, deadline, [](const std::string&) { return false; })) {
        return failed("socket " + socket_path + ": no answer within " + std::to_string(timeout_s) +
                      " s");
    }
    return {DaemonAnswer::Outcome::Answered, std::move(answer), ""};
}

}  // namespace credfs
