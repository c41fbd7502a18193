#include "credfs/helper/helper_server.hpp"

#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <system_error>

#include "credfs/core/signals.hpp"
#include "credfs/helper/credential_protocol.hpp"

namespace credfs {

namespace {

/// A command line, the attributes and the blank line: more is refused.
constexpr size_t kMaxRequest = kMaxCredentialInput + 1024;
constexpr int kRefusalLogIntervalS = 60;

/// what(): "socket PATH: [what: ]<errno text>".
[[noreturn]] void fail(const std::string& path, const std::string& what, int err) {
    throw std::system_error(err, std::generic_category(),
                            "socket " + path + (what.empty() ? "" : ": " + what));
}

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

sockaddr_un address_of(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) fail(path, "", ENAMETOOLONG);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

/// True when a server answers at `path` (a connect succeeds).
bool someone_answers(const sockaddr_un& addr) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 ||
                    errno == EAGAIN;  // a full backlog is a live server too
    ::close(fd);
    return ok;
}

/// Removes a socket nobody answers on; refuses anything else at the path.
void clear_stale_socket(const std::string& path, const sockaddr_un& addr) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return;
        fail(path, "", errno);
    }
    if (!S_ISSOCK(st.st_mode)) fail(path, "exists and is not a socket; not replacing it", EEXIST);
    if (someone_answers(addr)) fail(path, "another daemon answers on it", EADDRINUSE);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        fail(path, "cannot remove the stale socket", errno);
    }
}

void set_timeouts(int fd, int seconds) {
    const timeval tv{seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

/// Reads a command line, attributes and a blank line (or EOF). Empty when the
/// client was too slow or sent too much.
std::optional<std::string> read_request(int fd, int timeout_s) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    std::string request;
    char buf[4096];
    while (true) {
        // The blank line may follow the command line at once (status).
        if (const size_t first_line = request.find('\n');
            first_line != std::string::npos &&
            request.find("\n\n", first_line) != std::string::npos) {
            return request;
        }
        if (request.size() > kMaxRequest || std::chrono::steady_clock::now() > deadline) {
            return std::nullopt;
        }
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::nullopt;  // SO_RCVTIMEO or a reset
        if (n == 0) return request;      // EOF ends the attributes too
        request.append(buf, static_cast<size_t>(n));
    }
}

std::string error_line(const std::string& why) { return "error=" + why + "\n"; }

/// Unix seconds of a wall time, rounded down.
std::int64_t unix_seconds(WallTime t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

HelperServer::HelperServer(std::string socket_path, RigRegistry& registry,
                           std::function<std::string()> status_json)
    : path_(std::move(socket_path)), registry_(registry), status_json_(std::move(status_json)) {}

HelperServer::~HelperServer() { stop(); }

void HelperServer::start() {
    const sockaddr_un addr = address_of(path_);
    clear_stale_socket(path_, addr);
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) fail(path_, "", errno);
    // chmod after bind leaves a moment at the umask's mode; SO_PEERCRED
    // refuses other users during it anyway.
    if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
        ::chmod(path_.c_str(), 0600) != 0 || ::listen(listen_fd_, SOMAXCONN) != 0) {
        const int err = errno;
        ::close(listen_fd_);
        listen_fd_ = -1;
        fail(path_, "", err);
    }
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
    if (wake_fd_ < 0) {
        const int err = errno;
        stop();
        fail(path_, "eventfd", err);
    }
    const DaemonSignalsBlocked blocked;  // the daemon's main thread takes them
    acceptor_ = std::thread([this] { accept_loop(); });
    spdlog::info("credential helper socket at {}", path_);
}

void HelperServer::stop() {
    if (acceptor_.joinable()) {
        const uint64_t one = 1;
        ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
        (void)ignored;
        acceptor_.join();
    }
    {
        std::unique_lock lock(mu_);
        idle_.wait(lock, [this] { return active_ == 0; });
    }
    if (listen_fd_ >= 0) {
        ::close(listen_fd_);
        listen_fd_ = -1;
        ::unlink(path_.c_str());
    }
    if (wake_fd_ >= 0) {
        ::close(wake_fd_);
        wake_fd_ = -1;
    }
}

void HelperServer::accept_loop() {
    while (true) {
        pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            spdlog::error("credential helper socket {}: poll: {}", path_, errno_text(errno));
            return;
        }
        if (fds[1].revents != 0) return;
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            // Out of descriptors: let the connections being served end
            // rather than spin on a listen socket that stays readable.
            if (errno == EMFILE || errno == ENFILE) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
            continue;
        }
        {
            std::lock_guard lock(mu_);
            if (active_ >= kMaxConnections) {
                ::close(fd);
                continue;
            }
            ++active_;
        }
        std::thread([this, fd] {
            serve(fd);
            ::close(fd);
            std::lock_guard lock(mu_);
            --active_;
            idle_.notify_all();
        }).detach();
    }
}

bool HelperServer::allowed_peer(int fd) {
    ucred peer{};
    socklen_t len = sizeof peer;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) return false;
    if (peer.uid == ::geteuid()) return true;
    const long long now = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::steady_clock::now().time_since_epoch())
                              .count();
    long long last = last_refusal_log_s_.load();
    if (now - last >= kRefusalLogIntervalS &&
        last_refusal_log_s_.compare_exchange_strong(last, now)) {
        spdlog::warn(
            "credential helper socket {}: refused a connection from uid {} (only uid {} "
            "is answered; further refusals within {} s are not logged)",
            path_, peer.uid, ::geteuid(), kRefusalLogIntervalS);
    }
    return false;
}

int HelperServer::timeout_s() const {
    double read_timeout_s = 0;
    for (const RigPtr& rig : registry_.rigs()->rigs) {
        read_timeout_s = std::max(read_timeout_s, rig->refresh_config().read_timeout_s);
    }
    return static_cast<int>(std::ceil(read_timeout_s)) + 1;
}

void HelperServer::serve(int fd) {
    if (!allowed_peer(fd)) return;
    set_timeouts(fd, kIoTimeoutS);
    const std::string greeting =
        std::string(kHelperGreeting) + " timeout_s=" + std::to_string(timeout_s()) + "\n";
    if (!send_all(fd, greeting)) return;
    const auto request = read_request(fd, kIoTimeoutS);
    if (!request) return;
    send_all(fd, answer(*request));
}

std::string HelperServer::answer(const std::string& request) {
    const size_t eol = request.find('\n');
    const std::string line = request.substr(0, eol);
    const std::string attributes = eol == std::string::npos ? "" : request.substr(eol + 1);
    if (line == "status") return status_json_();
    const size_t space = line.find(' ');
    const std::string verb = line.substr(0, space);
    if (space == std::string::npos || (verb != "get" && verb != "erase" && verb != "store")) {
        return error_line("unknown request (expected get, erase, store RIG or status)");
    }
    return answer_credential(verb, line.substr(space + 1), attributes);
}

std::string HelperServer::answer_credential(const std::string& verb, const std::string& rig_name,
                                            const std::string& attributes) {
    const ParsedAttributes parsed = parse_credential_attributes(attributes);
    if (!parsed.error.empty()) return error_line(parsed.error);
    const RigPtr rig = registry_.find_rig(rig_name);
    if (!rig) return error_line("no rig named " + rig_name + " (by file name or id)");
    if (verb == "store") return "";
    const RigConfig& config = rig->config();
    const CredentialAttributes& request = parsed.attributes;
    // git asks every helper for every host: another host's request is not ours.
    if (request.protocol != config.protocol || !same_host(request.host, config.host)) return "";
    if (verb == "erase") {
        if (!request.password.empty()) rig->report_rejected(request.password);
        return "";
    }
    const ReadResult read = rig->credential_for_read();
    if (read.error != 0) return "";
    CredentialAttributes out;
    out.protocol = config.protocol;
    out.host = config.host;
    out.username = config.username;
    out.password = read.credential->token;
    if (!read.credential->never_expires()) {
        out.password_expiry_utc = unix_seconds(read.credential->expires_at);
    }
    return render_credential_attributes(out).value_or(error_line("credential not renderable"));
}

}  // namespace credfs
