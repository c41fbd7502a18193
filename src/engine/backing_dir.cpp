#include "credfs/engine/backing_dir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <system_error>
#include <thread>

namespace credfs {

namespace {

constexpr std::string_view kTempMarker = ".credfs-tmp-";

int write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return 0;
}

}  // namespace

BackingDir::BackingDir(const std::string& path)
    : fd_(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)), path_(path) {
    if (fd_ < 0) {
        throw std::system_error(errno, std::generic_category(), "cannot open directory " + path);
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        ::close(fd_);
        fd_ = -1;
        throw std::system_error(err, std::generic_category(),
                                err == EWOULDBLOCK ? "another gastown-credfs already serves " + path
                                                   : "cannot lock directory " + path);
    }
}

BackingDir::~BackingDir() {
    if (fd_ >= 0) ::close(fd_);
}

bool BackingDir::is_temp_name(std::string_view name) {
    return name.find(kTempMarker) != std::string_view::npos;
}

int BackingDir::write_atomic(const std::string& name, std::string_view content) const {
    static std::atomic<unsigned> counter{0};
    std::string temp;
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
        // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict) on a chain
        // of operator+ here.
        temp.assign(1, '.');
        temp.append(name, 0, 200);
        temp.append(kTempMarker);
        temp.append(std::to_string(::getpid()));
        temp.push_back('-');
        temp.append(std::to_string(counter++));
        fd = ::openat(fd_, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST) return errno;
    }
    if (fd < 0) return EEXIST;
    return commit(fd, temp, name, content);
}

int BackingDir::write_in_place(const std::string& name, std::string_view content) const {
    const int fd = ::openat(fd_, name.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return errno;
    int err = 0;
    const ssize_t n = ::pwrite(fd, content.data(), content.size(), 0);
    if (n >= 0 && static_cast<size_t>(n) != content.size()) {
        err = EIO;  // a short write to a regular file: the disk is full or failing
    } else if (n < 0 || ::ftruncate(fd, static_cast<off_t>(content.size())) != 0) {
        err = errno;
    }
    if (::close(fd) != 0 && err == 0) err = errno;
    return err;
}

int BackingDir::write_under_git_lock(
    const std::string& name,
    const std::function<std::string(const std::optional<std::string>&)>& render,
    double lock_wait_s) const {
    const std::string lock = name + ".lock";
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(lock_wait_s));
    int fd = -1;
    while ((fd = ::openat(fd_, lock.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        if (errno != EEXIST) return errno;
        // git holds its lock for a few milliseconds per store or erase.
        if (std::chrono::steady_clock::now() >= deadline) return EEXIST;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return commit(fd, lock, name, render(read(name)));
}

int BackingDir::commit(int fd, const std::string& temp, const std::string& name,
                       std::string_view content) const {
    int err = write_all(fd, content);
    if (err == 0 && ::fsync(fd) != 0) err = errno;
    if (::close(fd) != 0 && err == 0) err = errno;
    if (err == 0 && ::renameat(fd_, temp.c_str(), fd_, name.c_str()) != 0) err = errno;
    if (err != 0) ::unlinkat(fd_, temp.c_str(), 0);
    return err;
}

std::optional<std::string> BackingDir::read(const std::string& name, size_t max_bytes) const {
    const int fd = open_read(name);
    if (fd < 0) return std::nullopt;
    std::string content;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) break;
        if (n < 0 || content.size() + static_cast<size_t>(n) > max_bytes) {
            ::close(fd);
            return std::nullopt;
        }
        content.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return content;
}

std::vector<std::string> BackingDir::list() const {
    std::vector<std::string> names;
    const int dup_fd = ::openat(fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup_fd < 0) return names;
    DIR* dir = ::fdopendir(dup_fd);
    if (dir == nullptr) {
        ::close(dup_fd);
        return names;
    }
    // NOLINTNEXTLINE(concurrency-mt-unsafe): this DIR* is ours alone.
    while (const dirent* entry = ::readdir(dir)) {
        const std::string name = entry->d_name;
        if (name == "." || name == ".." || is_temp_name(name)) continue;
        struct stat st {};
        if (stat(name, st) == 0 && S_ISREG(st.st_mode)) names.push_back(name);
    }
    ::closedir(dir);
    return names;
}

int BackingDir::stat(const std::string& name, struct stat& out) const {
    return ::fstatat(fd_, name.c_str(), &out, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
}

int BackingDir::open_read(const std::string& name) const {
    const int fd = ::openat(fd_, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -errno;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return -EINVAL;
    }
    return fd;
}

}  // namespace credfs
