#include "credfs/files/files_watcher.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <set>
#include <system_error>

#include "credfs/core/credential_store.hpp"
#include "credfs/core/log.hpp"

namespace credfs {

namespace {

// Renames over a file (git's lock dance and the daemon's own), writes in
// place, the file going away, and the directory itself moved away.
constexpr uint32_t kWatched =
    IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_MOVE_SELF;
// A write that failed (git's lock left behind, a full disk) is tried again
// this often while the directory is quiet: git reads the stale file meanwhile.
constexpr int kRetryIntervalMs = 1000;

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

}  // namespace

FilesWatcher::FilesWatcher(std::string path, RigRegistry& registry, const BackingDir& dir)
    : path_(std::move(path)), registry_(registry), dir_(dir) {}

FilesWatcher::~FilesWatcher() { stop(); }

void FilesWatcher::start() {
    inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ < 0 || ::inotify_add_watch(inotify_fd_, path_.c_str(), kWatched) < 0) {
        const int err = errno;
        close_fd(inotify_fd_);
        throw std::system_error(err, std::generic_category(), "cannot watch " + path_);
    }
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
        const int err = errno;
        close_fd(inotify_fd_);
        throw std::system_error(err, std::generic_category(), "eventfd");
    }
    thread_ = std::thread(&FilesWatcher::run, this);
}

void FilesWatcher::stop() {
    if (thread_.joinable()) {
        const uint64_t one = 1;
        ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
        (void)ignored;
        thread_.join();
    }
    close_fd(inotify_fd_);
    close_fd(wake_fd_);
}

void FilesWatcher::run() {
    // Whatever changed before the watch began (or while a mount hid git's
    // writes elsewhere) is looked at once.
    for (const auto& rig : registry_.rigs()->rigs) reconcile(rig->config().file);
    alignas(inotify_event) char buf[16 * 1024];
    auto next_retry = std::chrono::steady_clock::now();
    for (;;) {
        // Retries run on time however busy the directory is.
        const auto now = std::chrono::steady_clock::now();
        if (now >= next_retry) {
            retry_failed_writes();
            next_retry = now + std::chrono::milliseconds(kRetryIntervalMs);
        }
        const auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 next_retry - std::chrono::steady_clock::now())
                                 .count();
        pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        const int ready = ::poll(fds, 2, static_cast<int>(std::max<long long>(wait_ms, 0)));
        if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
        if (ready < 0) {
            spdlog::error("files mode: poll on the watch of {}: {}", path_,
                          std::error_code(errno, std::generic_category()).message());
            return;
        }
        if (fds[1].revents != 0) return;
        const ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
        if (n > 0 && !handle_events(buf, static_cast<size_t>(n))) return;
    }
}

bool FilesWatcher::handle_events(const char* buf, size_t size) {
    // One look per name per batch: git's dance is several events.
    std::set<std::string> names;
    bool overflow = false;
    for (size_t at = 0; at < size;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buf + at);
        if ((event->mask & IN_Q_OVERFLOW) != 0) overflow = true;
        if (event->len > 0) names.insert(event->name);
        if ((event->mask & IN_MOVE_SELF) != 0) {
            spdlog::error(
                "files mode: {} was moved away: the daemon keeps renewing the files in the "
                "directory it opened, which is no longer there; restart it",
                path_);
        }
        if ((event->mask & IN_IGNORED) != 0) {
            spdlog::error(
                "files mode: {} was removed or unmounted: git's writes are no longer seen", path_);
            return false;
        }
        at += sizeof(inotify_event) + event->len;
    }
    if (overflow) {
        for (const auto& rig : registry_.rigs()->rigs) names.insert(rig->config().file);
    }
    for (const auto& name : names) reconcile(name);
    return true;
}

void FilesWatcher::retry_failed_writes() {
    for (const auto& rig : registry_.rigs()->rigs) {
        if (!rig->stats().write_through_error.empty()) rig->write_fallback();
    }
}

void FilesWatcher::reconcile(const std::string& name) {
    const RigPtr rig = registry_.find(name);
    if (!rig) return;
    const CredentialPtr served = rig->current();
    // Before the first token the first refresh writes the file (what an
    // earlier run left there was seeded from at startup).
    if (!served) return;
    const std::optional<std::string> content = dir_.read(name);
    if (content == served->content) return;  // the daemon's own write
    if (!content) {
        spdlog::info("rig {}: {} was removed or unreadable: writing it again", rig->config().id,
                     printable(name));
        rig->write_fallback();
        return;
    }
    const StoreRewrite rewrite = parse_store_rewrite(*content, rig->config());
    rig->apply_rewrite(rewrite);
    // An erase is left to the forced refresh, which writes the new token.
    if (!rewrite.has_managed_line) return;
    // An approval that wrote back the token git had read (an older one).
    const CredentialPtr now = rig->current();
    if (now && dir_.read(name) != now->content) rig->write_fallback();
}

}  // namespace credfs
