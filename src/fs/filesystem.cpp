#include "credfs/fs/filesystem.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <variant>

#include "credfs/core/credential_store.hpp"
#include "credfs/core/overloaded.hpp"
#include "credfs/engine/fallback_store.hpp"
#include "credfs/fs/daemon_files.hpp"

namespace credfs {

namespace {

/// A name in the root: the kernel never sends an empty one or one with '/'.
bool is_name(std::string_view name) {
    return !name.empty() && name.find('/') == std::string_view::npos;
}

bool opens_read_only(int flags) {
    return (flags & O_ACCMODE) == O_RDONLY && (flags & O_TRUNC) == 0;
}

// The kinds of node an inode below kFirstScratchIno can be.
struct GoneNode {};  ///< Never numbered, or its name left (reload, removed file).
struct RootNode {};
struct BackingNode {  ///< Shown from the backing directory, or shadowed by scratch.
    std::string name;
};

}  // namespace

struct Filesystem::Node {
    std::variant<GoneNode, RootNode, const DaemonFile*, RigPtr, BackingNode> kind;
};

Filesystem::Filesystem(const RigRegistry& registry, const Clock& clock, uid_t uid, gid_t gid,
                       const ScratchLimits& limits, const BackingDir* backing)
    : registry_(registry),
      uid_(uid),
      gid_(gid),
      mounted_at_(clock.now()),
      scratch_(clock, limits, kFirstScratchIno),
      backing_(backing),
      clock_(clock) {}

bool Filesystem::is_passthrough(std::string_view name) const {
    return backing_ != nullptr && registry_.find(name) == nullptr && !is_daemon_file(name) &&
           FallbackStore::is_passthrough(*backing_, name);
}

int Filesystem::passthrough_attr(const std::string& name, NodeAttr& out) const {
    struct stat st {};
    if (!is_passthrough(name) || backing_->stat(name, st) != 0 || !S_ISREG(st.st_mode)) {
        return -ENOENT;
    }
    out.ino = named_.ino_of(name);
    out.mode = st.st_mode & 0555;  // shown read-only
    out.size = st.st_size;
    out.uid = st.st_uid;
    out.gid = st.st_gid;
    out.mtime = WallTime{} + std::chrono::duration_cast<WallClock::duration>(
                                 std::chrono::seconds(st.st_mtim.tv_sec) +
                                 std::chrono::nanoseconds(st.st_mtim.tv_nsec));
    return 0;
}

bool Filesystem::is_shown_backing_file(const std::string& name) const {
    NodeAttr attr;
    return passthrough_attr(name, attr) == 0;
}

Filesystem::Node Filesystem::resolve(Ino ino) const {
    if (ino == kRootIno) return {RootNode{}};
    if (const DaemonFile* f = daemon_file(ino)) return {f};
    auto name = named_.name_of(ino);
    if (!name) return {GoneNode{}};
    // The one registry lookup of an open or getattr of a rig file.
    if (RigPtr rig = registry_.find(*name)) return {std::move(rig)};
    if (!is_shown_backing_file(*name)) return {GoneNode{}};
    return {BackingNode{std::move(*name)}};
}

std::optional<std::string> Filesystem::name_of(Ino ino) const {
    if (ino >= kFirstScratchIno) return scratch_.name_of(ino);
    return std::visit(
        Overloaded{
            [](GoneNode) -> std::optional<std::string> { return std::nullopt; },
            [](RootNode) -> std::optional<std::string> { return ""; },
            [](const DaemonFile* f) -> std::optional<std::string> { return std::string(f->name); },
            [](const RigPtr& rig) -> std::optional<std::string> { return rig->config().file; },
            [](const BackingNode& b) -> std::optional<std::string> { return b.name; },
        },
        resolve(ino).kind);
}

NodeAttr Filesystem::base_attr() const {
    NodeAttr out;
    out.uid = uid_;
    out.gid = gid_;
    out.mtime = mounted_at_;
    out.mode = 0600;
    return out;
}

void Filesystem::rig_attr(const Rig& rig, NodeAttr& out) const {
    out.ino = named_.ino_of(rig.config().file);
    out.cacheable = true;
    if (const CredentialPtr cred = rig.current()) {
        out.size = static_cast<off_t>(cred->content.size());
        out.mtime = cred->fetched_at;
    }
}

namespace {

void daemon_attr(const DaemonFile& f, std::size_t size, WallTime now, NodeAttr& out) {
    out.ino = f.ino;
    out.mode = 0400;
    out.size = static_cast<off_t>(size);
    out.mtime = now;
}

void scratch_attr(const ScratchStat& st, NodeAttr& out) {
    out.ino = st.ino;
    out.size = st.size;
    out.mtime = st.mtime;
}

}  // namespace

int Filesystem::other_attr(const std::string& name, NodeAttr& out) const {
    if (scratch_.drop_if_stale_lock(name)) return -ENOENT;
    const auto st = scratch_.stat(name);
    if (!st) return passthrough_attr(name, out);
    scratch_attr(*st, out);
    return 0;
}

bool Filesystem::handle_attr(Ino ino, const OpenFile& open, NodeAttr& out) const {
    return std::visit(Overloaded{
                          [&](const RigFile& f) {
                              out.ino = ino;
                              out.cacheable = true;
                              out.size = static_cast<off_t>(f.credential->content.size());
                              out.mtime = f.credential->fetched_at;
                              return true;
                          },
                          [&](const RenderedFile& f) {
                              daemon_attr(*daemon_file(f.ino), f.content.size(), clock_.now(), out);
                              return true;
                          },
                          [&](const ScratchFile& f) {
                              scratch_attr(scratch_.stat(f.handle), out);
                              return true;
                          },
                          // As stat does: the file under the mount, by name.
                          [](const PassthroughFile&) { return false; },
                      },
                      open);
}

int Filesystem::lookup(std::string_view name, NodeAttr& out) const {
    // The kernel passes names up to 1024 bytes; no file here has a longer one than NAME_MAX.
    if (name.size() > NAME_MAX) return -ENAMETOOLONG;
    if (!is_name(name)) return -ENOENT;
    out = base_attr();
    // What an open would read now.
    if (const DaemonFile* f = daemon_file(name)) {
        daemon_attr(*f, f->render(*registry_.rigs(), status_info_, clock_.now()).size(),
                    clock_.now(), out);
        return 0;
    }
    if (const RigPtr rig = registry_.find(name)) {
        rig_attr(*rig, out);
        return 0;
    }
    return other_attr(std::string(name), out);
}

int Filesystem::getattr(Ino ino, const OpenFile* open, NodeAttr& out) const {
    out = base_attr();
    if (ino >= kFirstScratchIno) {
        // By inode, not name: an unlinked file stays reachable while it is open.
        const auto st = scratch_.stat_ino(ino);
        if (!st) return -ESTALE;
        scratch_attr(*st, out);
        return 0;
    }
    if (open != nullptr && handle_attr(ino, *open, out)) return 0;
    return std::visit(
        Overloaded{
            [&](GoneNode) { return open != nullptr ? -ENOENT : -ESTALE; },
            [&](RootNode) {
                out.ino = kRootIno;
                out.is_dir = true;
                out.mode = 0700;
                out.cacheable = true;  // fixed for the mount's life
                return 0;
            },
            [&](const DaemonFile* f) {
                daemon_attr(*f, f->render(*registry_.rigs(), status_info_, clock_.now()).size(),
                            clock_.now(), out);
                return 0;
            },
            [&](const RigPtr& rig) {
                rig_attr(*rig, out);
                return 0;
            },
            [&](const BackingNode& b) { return other_attr(b.name, out); },
        },
        resolve(ino).kind);
}

std::vector<std::string> Filesystem::list() const {
    std::vector<std::string> names;
    const auto set = registry_.rigs();
    names.reserve(set->rigs.size());
    for (const auto& rig : set->rigs) names.push_back(rig->config().file);
    for (const auto& f : daemon_files()) names.emplace_back(f.name);
    std::vector<std::string> scratch = scratch_.list();
    if (backing_ != nullptr) {
        for (auto& name : backing_->list()) {
            if (!set->by_file.contains(name) && !is_daemon_file(name) &&
                FallbackStore::is_passthrough(*backing_, name) &&
                !std::binary_search(scratch.begin(), scratch.end(), name)) {
                names.push_back(std::move(name));
            }
        }
    }
    // A file git made under a name that a reload then gave to a rig is
    // shadowed by the rig (lookups find the rig): list the name once. Here
    // and above, ask the set listed first, not the registry: a reload in
    // between would leave a new rig's name out of both.
    for (auto& name : scratch) {
        if (!set->by_file.contains(name) && !is_daemon_file(name)) names.push_back(std::move(name));
    }
    return names;
}

int Filesystem::open(Ino ino, int flags, std::unique_ptr<OpenFile>& out) {
    if (ino >= kFirstScratchIno) {
        ScratchHandle handle;
        const bool truncate = (flags & O_TRUNC) != 0 && (flags & O_ACCMODE) != O_RDONLY;
        if (const int rc = scratch_.open_ino(ino, truncate, handle); rc != 0) return rc;
        out = std::make_unique<OpenFile>(ScratchFile{std::move(handle)});
        return 0;
    }
    return std::visit(
        Overloaded{
            [](GoneNode) { return -ESTALE; },
            [](RootNode) { return -EISDIR; },
            [&](const DaemonFile* f) {
                if (!opens_read_only(flags)) return -EACCES;
                out = std::make_unique<OpenFile>(
                    RenderedFile{f->ino, f->render(*registry_.rigs(), status_info_, clock_.now())});
                return 0;
            },
            [&](const RigPtr& rig) {
                if (!opens_read_only(flags)) return -EACCES;
                ReadResult result = rig->credential_for_read();
                if (result.error != 0) return -result.error;
                out = std::make_unique<OpenFile>(RigFile{std::move(result.credential)});
                return 0;
            },
            [&](const BackingNode& b) { return open_other(b.name, flags, out); },
        },
        resolve(ino).kind);
}

int Filesystem::open_other(const std::string& name, int flags, std::unique_ptr<OpenFile>& out) {
    ScratchHandle handle;
    const bool truncate = (flags & O_TRUNC) != 0 && (flags & O_ACCMODE) != O_RDONLY;
    if (const int rc = scratch_.open(name, truncate, handle); rc != 0) {
        return rc == -ENOENT ? open_passthrough(name, flags, out) : rc;
    }
    out = std::make_unique<OpenFile>(ScratchFile{std::move(handle)});
    return 0;
}

int Filesystem::open_passthrough(const std::string& name, int flags,
                                 std::unique_ptr<OpenFile>& out) const {
    if (!is_shown_backing_file(name)) return -ENOENT;
    if (!opens_read_only(flags)) return -EROFS;
    const int fd = backing_->open_read(name);
    if (fd < 0) return fd;
    out = std::make_unique<OpenFile>(PassthroughFile(fd));
    return 0;
}

int Filesystem::create(std::string_view name, int flags, std::unique_ptr<OpenFile>& out,
                       NodeAttr& attr) {
    if (!is_name(name)) return -EINVAL;
    if (name.size() > NAME_MAX) return -ENAMETOOLONG;
    if (registry_.find(name) != nullptr || is_daemon_file(name)) {
        return (flags & O_EXCL) != 0 ? -EEXIST : -EACCES;
    }
    ScratchHandle handle;
    const int rc =
        scratch_.create(std::string(name), (flags & O_EXCL) != 0, (flags & O_TRUNC) != 0, handle);
    if (rc != 0) return rc;
    attr = base_attr();
    scratch_attr(scratch_.stat(handle), attr);
    out = std::make_unique<OpenFile>(ScratchFile{std::move(handle)});
    return 0;
}

ssize_t Filesystem::read(const OpenFile& file, char* buf, size_t size, off_t offset) const {
    return read_open_file(file, scratch_, buf, size, offset);
}

ssize_t Filesystem::write(const OpenFile& file, std::string_view data, off_t offset, bool append) {
    return write_open_file(file, scratch_, data, offset, append);
}

void Filesystem::release(OpenFile& file) { release_open_file(file, scratch_); }

int Filesystem::truncate(Ino ino, const OpenFile* open, off_t size) {
    if (open != nullptr) {
        const auto* f = std::get_if<ScratchFile>(open);
        return f != nullptr ? scratch_.truncate(f->handle, size) : -EACCES;
    }
    if (ino >= kFirstScratchIno) {
        const auto name = scratch_.name_of(ino);
        return name ? truncate_name(*name, size) : -ESTALE;
    }
    return std::visit(Overloaded{
                          [](GoneNode) { return -ESTALE; },
                          [](RootNode) { return -EISDIR; },
                          [](const DaemonFile*) { return -EACCES; },
                          [](const RigPtr&) { return -EACCES; },
                          [&](const BackingNode& b) { return truncate_name(b.name, size); },
                      },
                      resolve(ino).kind);
}

int Filesystem::truncate_name(const std::string& name, off_t size) {
    // A scratch file shadowed by a rig or daemon file of its name (reload).
    if (registry_.find(name) != nullptr || is_daemon_file(name)) return -EACCES;
    const int rc = scratch_.truncate(name, size);
    return rc == -ENOENT && is_shown_backing_file(name) ? -EROFS : rc;
}

int Filesystem::set_mtime(Ino ino, WallTime mtime) {
    if (ino >= kFirstScratchIno) return scratch_.set_mtime_ino(ino, mtime);
    return std::visit(Overloaded{
                          [](GoneNode) { return -ESTALE; },
                          [](RootNode) { return 0; },
                          [](const DaemonFile*) { return 0; },
                          [](const RigPtr&) { return 0; },
                          [&](const BackingNode& b) {
                              const int rc = scratch_.set_mtime(b.name, mtime);
                              return rc == -ENOENT && is_shown_backing_file(b.name) ? -EROFS : rc;
                          },
                      },
                      resolve(ino).kind);
}

int Filesystem::unlink(std::string_view name) {
    if (registry_.find(name) != nullptr || is_daemon_file(name)) return -EPERM;
    if (!is_name(name)) return -ENOENT;
    const int rc = scratch_.unlink(std::string(name));
    return rc == -ENOENT && is_shown_backing_file(std::string(name)) ? -EROFS : rc;
}

int Filesystem::rename(std::string_view from, std::string_view to, bool no_replace) {
    if (!is_name(from) || !is_name(to)) return -EINVAL;
    if (to.size() > NAME_MAX) return -ENAMETOOLONG;
    if (registry_.find(from) != nullptr || is_daemon_file(from) || is_daemon_file(to)) {
        return -EPERM;
    }
    const std::string from_name(from);
    const std::string to_name(to);
    // Files from under the mountpoint are shown read-only: replacing one
    // through the mount would be lost at unmount.
    if (!scratch_.stat(from_name) && is_shown_backing_file(from_name)) return -EROFS;
    const RigPtr target = registry_.find(to);
    if (target == nullptr && !scratch_.stat(to_name) && is_shown_backing_file(to_name)) {
        return -EROFS;
    }
    if (no_replace && (target != nullptr || scratch_.stat(to_name))) return -EEXIST;
    if (target == nullptr) return scratch_.rename(from_name, to_name);
    const auto content = scratch_.take(from_name);
    if (!content) return -ENOENT;
    target->apply_rewrite(parse_store_rewrite(*content, target->config()));
    return 0;
}

}  // namespace credfs
