#include "credfs/fs/filesystem.hpp"

#include <fcntl.h>
#include <limits.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "credfs/core/credential_store.hpp"
#include "credfs/engine/fallback_store.hpp"

namespace credfs {

Filesystem::Filesystem(const RigRegistry& registry, const Clock& clock, uid_t uid, gid_t gid,
                       const ScratchLimits& limits, const BackingDir* backing)
    : registry_(registry),
      uid_(uid),
      gid_(gid),
      mounted_at_(clock.now()),
      scratch_(clock, limits, kFirstScratchIno),
      backing_(backing),
      clock_(clock) {}

namespace {

/// A file the daemon renders at each open (.status, .metrics): read-only,
/// mode 0400, a fixed inode, refused to create, write, truncate, unlink and
/// rename.
struct DaemonFile {
    std::string_view name;
    Ino ino;
    std::string (*render)(const RigSet&, const StatusInfo&, WallTime);
};

const std::array<DaemonFile, 2> kDaemonFiles{{
    {kStatusFile, kStatusIno, &render_status},
    {kMetricsFile, kMetricsIno, &render_metrics},
}};

const DaemonFile* daemon_file(std::string_view name) {
    for (const auto& f : kDaemonFiles) {
        if (f.name == name) return &f;
    }
    return nullptr;
}

const DaemonFile* daemon_file(Ino ino) {
    for (const auto& f : kDaemonFiles) {
        if (f.ino == ino) return &f;
    }
    return nullptr;
}

bool is_daemon_file(std::string_view name) { return daemon_file(name) != nullptr; }

}  // namespace

bool Filesystem::is_passthrough(std::string_view name) const {
    return backing_ != nullptr && registry_.find(name) == nullptr && !is_daemon_file(name) &&
           FallbackStore::is_passthrough(*backing_, name);
}

int Filesystem::passthrough_attr(const std::string& name, NodeAttr& out) const {
    struct stat st {};
    if (!is_passthrough(name) || backing_->stat(name, st) != 0 || !S_ISREG(st.st_mode)) {
        return -ENOENT;
    }
    out.ino = named_ino(name);
    out.mode = st.st_mode & 0555;  // shown read-only
    out.size = st.st_size;
    out.uid = st.st_uid;
    out.gid = st.st_gid;
    out.mtime = WallTime{} + std::chrono::duration_cast<WallClock::duration>(
                                 std::chrono::seconds(st.st_mtim.tv_sec) +
                                 std::chrono::nanoseconds(st.st_mtim.tv_nsec));
    return 0;
}

std::string_view Filesystem::name_of(std::string_view path) {
    if (path.size() < 2 || path.front() != '/') return {};
    const std::string_view name = path.substr(1);
    if (name.find('/') != std::string_view::npos) return {};
    return name;
}

Ino Filesystem::named_ino(const std::string& name) const {
    std::lock_guard lock(ino_mu_);
    const auto [it, added] = ino_by_name_.try_emplace(name, next_named_ino_);
    if (added) {
        name_by_ino_.emplace(next_named_ino_, name);
        ++next_named_ino_;
    }
    return it->second;
}

std::string Filesystem::path_of(Ino ino) const {
    if (ino == kRootIno) return "/";
    if (const DaemonFile* f = daemon_file(ino)) return "/" + std::string(f->name);
    if (ino >= kFirstScratchIno) {
        const auto name = scratch_.name_of(ino);
        return name ? "/" + *name : std::string();
    }
    std::string name;
    {
        std::lock_guard lock(ino_mu_);
        const auto it = name_by_ino_.find(ino);
        if (it == name_by_ino_.end()) return {};
        name = it->second;
    }
    // The name may have stopped being a rig's (reload) or a backing file.
    NodeAttr attr;
    if (registry_.find(name) == nullptr && passthrough_attr(name, attr) != 0) return {};
    return "/" + name;
}

RigPtr Filesystem::rig_at(std::string_view path) const {
    const std::string_view name = name_of(path);
    return name.empty() ? nullptr : registry_.find(name);
}

int Filesystem::getattr(std::string_view path, const OpenFile* open, NodeAttr& out) const {
    out = NodeAttr{};
    out.uid = uid_;
    out.gid = gid_;
    out.mtime = mounted_at_;
    if (path == "/") {
        out.ino = kRootIno;
        out.is_dir = true;
        out.mode = 0700;
        return 0;
    }
    out.mode = 0600;
    const DaemonFile* daemon = daemon_file(name_of(path));
    if (open != nullptr && open->blob) daemon = daemon_file(open->blob_ino);
    if (daemon != nullptr) {
        out.ino = daemon->ino;
        out.mode = 0400;
        // fstat: the handle's rendering; stat: what an open would read now.
        out.size = open != nullptr && open->blob
                       ? static_cast<off_t>(open->blob->size())
                       : static_cast<off_t>(
                             daemon->render(*registry_.rigs(), status_info_, clock_.now()).size());
        out.mtime = clock_.now();
        return 0;
    }
    if (open != nullptr && open->scratch) {
        const ScratchStat st = scratch_.stat(open->scratch);
        out.ino = st.ino;
        out.size = st.size;
        out.mtime = st.mtime;
        return 0;
    }
    if (open != nullptr && open->credential) {  // fstat: the handle's snapshot
        out.size = static_cast<off_t>(open->credential->content.size());
        out.mtime = open->credential->fetched_at;
        return 0;
    }
    if (const RigPtr rig = rig_at(path)) {
        out.ino = named_ino(rig->config().file);
        const CredentialPtr cred = open != nullptr ? open->credential : rig->current();
        if (cred) {
            out.size = static_cast<off_t>(cred->content.size());
            out.mtime = cred->fetched_at;
        }
        return 0;
    }
    const std::string_view name = name_of(path);
    if (name.empty()) return -ENOENT;
    if (scratch_.drop_if_stale_lock(std::string(name))) return -ENOENT;
    const auto st = scratch_.stat(std::string(name));
    if (!st) return passthrough_attr(std::string(name), out);
    out.ino = st->ino;
    out.size = st->size;
    out.mtime = st->mtime;
    return 0;
}

std::vector<std::string> Filesystem::list() const {
    std::vector<std::string> names;
    const auto set = registry_.rigs();
    names.reserve(set->rigs.size());
    for (const auto& rig : set->rigs) names.push_back(rig->config().file);
    for (const auto& f : kDaemonFiles) names.emplace_back(f.name);
    std::vector<std::string> scratch = scratch_.list();
    if (backing_ != nullptr) {
        for (auto& name : backing_->list()) {
            if (is_passthrough(name) && !std::binary_search(scratch.begin(), scratch.end(), name)) {
                names.push_back(std::move(name));
            }
        }
    }
    // A file git made under a name that a reload then gave to a rig is
    // shadowed by the rig (lookups find the rig): list the name once.
    for (auto& name : scratch) {
        if (registry_.find(name) == nullptr && !is_daemon_file(name))
            names.push_back(std::move(name));
    }
    return names;
}

int Filesystem::open(std::string_view path, int flags, std::unique_ptr<OpenFile>& out) {
    if (path == "/") return -EISDIR;
    if (const RigPtr rig = rig_at(path)) {
        if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0) return -EACCES;
        ReadResult result = rig->credential_for_read();
        if (result.error != 0) return -result.error;
        out = std::make_unique<OpenFile>(OpenFile{std::move(result.credential), nullptr});
        return 0;
    }
    const std::string_view name = name_of(path);
    if (name.empty()) return -ENOENT;
    if (const DaemonFile* daemon = daemon_file(name)) {
        if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0) return -EACCES;
        out = std::make_unique<OpenFile>();
        out->blob = std::make_shared<const std::string>(
            daemon->render(*registry_.rigs(), status_info_, clock_.now()));
        out->blob_ino = daemon->ino;
        return 0;
    }
    ScratchHandle handle;
    const bool truncate = (flags & O_TRUNC) != 0 && (flags & O_ACCMODE) != O_RDONLY;
    if (const int rc = scratch_.open(std::string(name), truncate, handle); rc != 0) {
        return rc == -ENOENT ? open_passthrough(std::string(name), flags, out) : rc;
    }
    out = std::make_unique<OpenFile>(OpenFile{nullptr, std::move(handle)});
    return 0;
}

int Filesystem::create(std::string_view path, int flags, std::unique_ptr<OpenFile>& out) {
    const std::string_view name = name_of(path);
    if (name.empty()) return -EINVAL;
    if (name.size() > NAME_MAX) return -ENAMETOOLONG;
    if (rig_at(path) != nullptr || is_daemon_file(name)) {
        return (flags & O_EXCL) != 0 ? -EEXIST : -EACCES;
    }
    ScratchHandle handle;
    const int rc =
        scratch_.create(std::string(name), (flags & O_EXCL) != 0, (flags & O_TRUNC) != 0, handle);
    if (rc != 0) return rc;
    out = std::make_unique<OpenFile>(OpenFile{nullptr, std::move(handle)});
    return 0;
}

int Filesystem::open_passthrough(const std::string& name, int flags,
                                 std::unique_ptr<OpenFile>& out) const {
    NodeAttr attr;
    if (passthrough_attr(name, attr) != 0) return -ENOENT;
    if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0) return -EROFS;
    const int fd = backing_->open_read(name);
    if (fd < 0) return fd;
    out = std::make_unique<OpenFile>();
    out->backing_fd = fd;
    return 0;
}

ssize_t Filesystem::read(const OpenFile& file, char* buf, size_t size, off_t offset) const {
    if (file.blob) {
        if (offset < 0 || static_cast<size_t>(offset) >= file.blob->size()) return 0;
        const size_t n = std::min(size, file.blob->size() - static_cast<size_t>(offset));
        std::memcpy(buf, file.blob->data() + offset, n);
        return static_cast<ssize_t>(n);
    }
    if (file.backing_fd >= 0) {
        const ssize_t n = ::pread(file.backing_fd, buf, size, offset);
        return n < 0 ? -errno : n;
    }
    if (file.scratch) {
        std::string chunk;
        scratch_.read(file.scratch, size, offset, chunk);
        std::memcpy(buf, chunk.data(), chunk.size());
        return static_cast<ssize_t>(chunk.size());
    }
    const std::string& content = file.credential->content;
    if (offset < 0 || static_cast<size_t>(offset) >= content.size()) return 0;
    const size_t n = std::min(size, content.size() - static_cast<size_t>(offset));
    std::memcpy(buf, content.data() + offset, n);
    return static_cast<ssize_t>(n);
}

ssize_t Filesystem::write(const OpenFile& file, std::string_view data, off_t offset, bool append) {
    if (!file.scratch) return -EBADF;
    return scratch_.write(file.scratch, data, offset, append);
}

void Filesystem::release(const OpenFile& file) {
    if (file.scratch) scratch_.release(file.scratch);
    if (file.backing_fd >= 0) ::close(file.backing_fd);
}

int Filesystem::truncate(std::string_view path, const OpenFile* open, off_t size) {
    if (open != nullptr && open->scratch) return scratch_.truncate(open->scratch, size);
    if (open != nullptr || rig_at(path) != nullptr || is_daemon_file(name_of(path))) return -EACCES;
    const std::string_view name = name_of(path);
    if (name.empty()) return path == "/" ? -EISDIR : -ENOENT;
    const int rc = scratch_.truncate(std::string(name), size);
    NodeAttr attr;
    if (rc == -ENOENT && passthrough_attr(std::string(name), attr) == 0) return -EROFS;
    return rc;
}

int Filesystem::unlink(std::string_view path) {
    if (rig_at(path) != nullptr || is_daemon_file(name_of(path))) return -EPERM;
    const std::string_view name = name_of(path);
    if (name.empty()) return -ENOENT;
    const int rc = scratch_.unlink(std::string(name));
    NodeAttr attr;
    if (rc == -ENOENT && passthrough_attr(std::string(name), attr) == 0) return -EROFS;
    return rc;
}

int Filesystem::set_mtime(std::string_view path, WallTime mtime) {
    const std::string_view name = name_of(path);
    if (path == "/" || rig_at(path) != nullptr || is_daemon_file(name)) return 0;
    if (name.empty()) return -ENOENT;
    const int rc = scratch_.set_mtime(std::string(name), mtime);
    return rc == -ENOENT && is_shown_backing_file(std::string(name)) ? -EROFS : rc;
}

bool Filesystem::is_shown_backing_file(const std::string& name) const {
    NodeAttr attr;
    return passthrough_attr(name, attr) == 0;
}

int Filesystem::getattr_ino(Ino ino, const OpenFile* open, NodeAttr& out) const {
    if (ino < kFirstScratchIno) {
        const std::string path = path_of(ino);
        if (path.empty() && open == nullptr) return -ESTALE;
        return getattr(path, open, out);
    }
    // By inode, not name: an unlinked file stays reachable while it is open.
    const auto st = scratch_.stat_ino(ino);
    if (!st) return -ESTALE;
    out = NodeAttr{};
    out.ino = ino;
    out.mode = 0600;
    out.uid = uid_;
    out.gid = gid_;
    out.size = st->size;
    out.mtime = st->mtime;
    return 0;
}

int Filesystem::open_ino(Ino ino, int flags, std::unique_ptr<OpenFile>& out) {
    if (ino < kFirstScratchIno) {
        const std::string path = path_of(ino);
        return path.empty() ? -ESTALE : open(path, flags, out);
    }
    ScratchHandle handle;
    const bool truncate = (flags & O_TRUNC) != 0 && (flags & O_ACCMODE) != O_RDONLY;
    if (const int rc = scratch_.open_ino(ino, truncate, handle); rc != 0) return rc;
    out = std::make_unique<OpenFile>();
    out->scratch = std::move(handle);
    return 0;
}

int Filesystem::set_mtime_ino(Ino ino, WallTime mtime) {
    if (ino >= kFirstScratchIno) return scratch_.set_mtime_ino(ino, mtime);
    const std::string path = path_of(ino);
    return path.empty() ? -ESTALE : set_mtime(path, mtime);
}

int Filesystem::rename(std::string_view from, std::string_view to, bool no_replace) {
    const std::string_view from_name = name_of(from);
    const std::string_view to_name = name_of(to);
    if (from_name.empty() || to_name.empty()) return -EINVAL;
    if (to_name.size() > NAME_MAX) return -ENAMETOOLONG;
    if (rig_at(from) != nullptr || is_daemon_file(from_name) || is_daemon_file(to_name))
        return -EPERM;
    // Files from under the mountpoint are shown read-only: replacing one
    // through the mount would be lost at unmount.
    if (!scratch_.stat(std::string(from_name)) && is_shown_backing_file(std::string(from_name))) {
        return -EROFS;
    }
    const RigPtr target = rig_at(to);
    if (target == nullptr && !scratch_.stat(std::string(to_name)) &&
        is_shown_backing_file(std::string(to_name))) {
        return -EROFS;
    }
    if (no_replace && (target != nullptr || scratch_.stat(std::string(to_name)))) return -EEXIST;
    if (target == nullptr) {
        return scratch_.rename(std::string(from_name), std::string(to_name));
    }
    const auto content = scratch_.take(std::string(from_name));
    if (!content) return -ENOENT;
    target->apply_rewrite(parse_store_rewrite(*content, target->config()));
    return 0;
}

}  // namespace credfs
