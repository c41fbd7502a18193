#include "credfs/fs/fuse_adapter.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <linux/fs.h>  // RENAME_NOREPLACE
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "credfs/fs/filesystem.hpp"

namespace credfs {

/// A snapshot of the root's entries, taken at offset 0 (opendir, or
/// rewinddir) so offsets stay valid across the readdir calls of one pass
/// while git creates and renames lock files.
struct DirSnapshot {
    std::vector<std::pair<std::string, fuse_ino_t>> entries;
};

FuseFrontEnd::FuseFrontEnd(Filesystem& filesystem) : fs(filesystem) {}
FuseFrontEnd::~FuseFrontEnd() = default;

namespace {

/// An operation's result: a negative errno, 0 (reply "no error"), or
/// kReplied when the operation sent its own success reply.
constexpr int kReplied = 1;

FuseFrontEnd& front(fuse_req_t req) { return *static_cast<FuseFrontEnd*>(fuse_req_userdata(req)); }
Filesystem& fs(fuse_req_t req) { return front(req).fs; }

/// One catch per operation: nothing may unwind into libfuse's C code, and
/// every request gets exactly one reply.
template <class Op>
void guarded(fuse_req_t req, const char* name, Op op) noexcept {
    int rc = -EIO;
    try {
        rc = op();
    } catch (const std::exception& e) {
        spdlog::error("{}: {}", name, e.what());
    } catch (...) {
        spdlog::error("{}: unknown exception", name);
    }
    if (rc != kReplied) fuse_reply_err(req, -rc);
}

OpenFile* handle(const fuse_file_info* fi) {
    return fi == nullptr ? nullptr : HandleSet<OpenFile>::get(fi->fh);
}

/// The mount is one flat directory: a name in any other parent names nothing.
bool in_root(fuse_ino_t parent) { return parent == kRootIno; }

struct stat to_stat(const NodeAttr& attr, fuse_ino_t ino) {
    struct stat st {};
    st.st_ino = ino;
    st.st_mode = (attr.is_dir ? S_IFDIR : S_IFREG) | attr.mode;
    st.st_nlink = attr.is_dir ? 2 : 1;
    st.st_size = attr.size;
    st.st_uid = attr.uid;
    st.st_gid = attr.gid;
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(attr.mtime.time_since_epoch()).count();
    st.st_mtim = {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    st.st_ctim = st.st_mtim;
    st.st_atim = st.st_mtim;
    return st;
}

/// Seconds the kernel may keep a name -> inode answer for the nodes whose
/// inode never changes (root, .status, rig and backing files): it saves a
/// LOOKUP per open. A rig removed by a reload answers ESTALE meanwhile, and
/// the kernel then looks the name up again (and gets ENOENT).
constexpr double kStableEntryTimeoutS = 10;

/// Seconds the kernel may keep the attributes of a rig file or the root
/// (NodeAttr::cacheable): it saves the GETATTRs of the permission check at
/// open and of fstat. A rig file's changes are invalidated explicitly
/// (KernelCache::changed) before any open sees them; the root's attributes
/// never change. Other nodes change
/// behind the kernel's back and get 0.
constexpr double kStableAttrTimeoutS = 10;

double attr_timeout(const NodeAttr& attr) { return attr.cacheable ? kStableAttrTimeoutS : 0; }

/// Entry timeouts are 0 for scratch files, whose names git renames and
/// recreates all the time.
fuse_entry_param to_entry(const NodeAttr& attr) {
    fuse_entry_param e{};
    e.ino = attr.ino;
    e.attr = to_stat(attr, attr.ino);
    e.attr_timeout = attr_timeout(attr);
    e.entry_timeout = attr.ino < kFirstScratchIno ? kStableEntryTimeoutS : 0;
    return e;
}

/// Attributes by inode (Filesystem::getattr); with a handle the kernel
/// passed, that handle's snapshot.
int reply_attr(fuse_req_t req, fuse_ino_t ino, const fuse_file_info* fi) {
    NodeAttr attr;
    if (const int rc = fs(req).getattr(ino, handle(fi), attr); rc != 0) return rc;
    const struct stat st = to_stat(attr, ino);
    fuse_reply_attr(req, &st, attr_timeout(attr));
    return kReplied;
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    guarded(req, "lookup", [&] {
        if (!in_root(parent)) return -ENOENT;
        NodeAttr attr;
        if (const int rc = fs(req).lookup(name, attr); rc != 0) return rc;
        const fuse_entry_param e = to_entry(attr);
        fuse_reply_entry(req, &e);
        return kReplied;
    });
}

void op_forget(fuse_req_t req, fuse_ino_t /*ino*/, uint64_t /*nlookup*/) { fuse_reply_none(req); }

void op_forget_multi(fuse_req_t req, size_t /*count*/, fuse_forget_data* /*forgets*/) {
    fuse_reply_none(req);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    guarded(req, "getattr", [&] { return reply_attr(req, ino, fi); });
}

int set_mtime(fuse_req_t req, fuse_ino_t ino, const struct stat* attr, int to_set) {
    WallTime mtime = WallClock::now();
    if ((to_set & FUSE_SET_ATTR_MTIME_NOW) == 0) {
        mtime = WallTime{} + std::chrono::duration_cast<WallClock::duration>(
                                 std::chrono::seconds(attr->st_mtim.tv_sec) +
                                 std::chrono::nanoseconds(attr->st_mtim.tv_nsec));
    }
    return fs(req).set_mtime(ino, mtime);
}

// Modes and owners are fixed (0600, the mounting user): chmod and chown are
// accepted and change nothing, so tools that set them keep working.
void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
    guarded(req, "setattr", [&] {
        if ((to_set & FUSE_SET_ATTR_SIZE) != 0) {
            if (const int rc = fs(req).truncate(ino, handle(fi), attr->st_size); rc != 0) return rc;
        }
        if ((to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) != 0) {
            if (const int rc = set_mtime(req, ino, attr, to_set); rc != 0) return rc;
        }
        return reply_attr(req, ino, fi);
    });
}

void take_snapshot(fuse_req_t req, DirSnapshot& snapshot) {
    snapshot.entries = {{".", kRootIno}, {"..", kRootIno}};
    for (auto& name : fs(req).list()) {
        NodeAttr attr;
        if (fs(req).lookup(name, attr) == 0) {
            snapshot.entries.emplace_back(std::move(name), attr.ino);
        }
    }
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    guarded(req, "opendir", [&] {
        if (ino != kRootIno) return fs(req).name_of(ino) ? -ENOTDIR : -ESTALE;
        fi->fh = front(req).dirs.adopt(std::make_unique<DirSnapshot>());
        if (fuse_reply_open(req, fi) != 0) front(req).dirs.take(fi->fh);
        return kReplied;
    });
}

void op_readdir(fuse_req_t req, fuse_ino_t /*ino*/, size_t size, off_t off, fuse_file_info* fi) {
    guarded(req, "readdir", [&] {
        auto* snapshot = HandleSet<DirSnapshot>::get(fi->fh);
        if (off <= 0) take_snapshot(req, *snapshot);
        std::vector<char> buf(size);
        size_t used = 0;
        for (size_t i = off < 0 ? 0 : static_cast<size_t>(off); i < snapshot->entries.size(); ++i) {
            struct stat st {};
            st.st_ino = snapshot->entries[i].second;
            st.st_mode = i < 2 ? S_IFDIR : S_IFREG;
            const size_t need = fuse_add_direntry(req, buf.data() + used, size - used,
                                                  snapshot->entries[i].first.c_str(), &st,
                                                  static_cast<off_t>(i + 1));
            if (need > size - used) break;
            used += need;
        }
        fuse_reply_buf(req, buf.data(), used);
        return kReplied;
    });
}

void op_releasedir(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
    front(req).dirs.take(fi->fh);
    fi->fh = 0;
    fuse_reply_err(req, 0);
}

/// Every handle is direct_io: each read reaches the daemon and is answered
/// from its own handle's snapshot, never from a page another handle filled
/// (docs/design.md, "Kernel caching").
int reply_open(fuse_req_t req, fuse_file_info* fi, std::unique_ptr<OpenFile> file) {
    fi->direct_io = 1;
    fi->keep_cache = 0;
    // Held before the reply: the kernel may send READ or RELEASE at once.
    fi->fh = front(req).files.adopt(std::move(file));
    if (fuse_reply_open(req, fi) != 0) {
        // The opener was interrupted: no RELEASE will come.
        fs(req).release(*front(req).files.take(fi->fh));
    }
    return kReplied;
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    guarded(req, "open", [&] {
        std::unique_ptr<OpenFile> file;
        if (const int rc = fs(req).open(ino, fi->flags, file); rc != 0) return rc;
        return reply_open(req, fi, std::move(file));
    });
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t /*mode*/,
               fuse_file_info* fi) {
    guarded(req, "create", [&] {
        if (!in_root(parent)) return -ENOENT;
        std::unique_ptr<OpenFile> file;
        NodeAttr attr;
        if (const int rc = fs(req).create(name, fi->flags, file, attr); rc != 0) return rc;
        const fuse_entry_param e = to_entry(attr);
        fi->direct_io = 1;
        fi->fh = front(req).files.adopt(std::move(file));
        if (fuse_reply_create(req, &e, fi) != 0) fs(req).release(*front(req).files.take(fi->fh));
        return kReplied;
    });
}

void op_read(fuse_req_t req, fuse_ino_t /*ino*/, size_t size, off_t off, fuse_file_info* fi) {
    guarded(req, "read", [&] {
        const OpenFile* file = handle(fi);
        if (file == nullptr) return -EBADF;
        thread_local std::vector<char> buf;
        if (buf.size() < size) buf.resize(size);
        const ssize_t n = fs(req).read(*file, buf.data(), size, off);
        if (n < 0) return static_cast<int>(n);
        fuse_reply_buf(req, buf.data(), static_cast<size_t>(n));
        return kReplied;
    });
}

void op_write(fuse_req_t req, fuse_ino_t /*ino*/, const char* data, size_t size, off_t off,
              fuse_file_info* fi) {
    guarded(req, "write", [&] {
        const OpenFile* file = handle(fi);
        if (file == nullptr) return -EBADF;
        // fi->flags are the file's flags now (fcntl may have changed O_APPEND).
        const ssize_t n =
            fs(req).write(*file, std::string_view(data, size), off, (fi->flags & O_APPEND) != 0);
        if (n < 0) return static_cast<int>(n);
        fuse_reply_write(req, static_cast<size_t>(n));
        return kReplied;
    });
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
    guarded(req, "unlink", [&] { return in_root(parent) ? fs(req).unlink(name) : -ENOENT; });
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
               const char* newname, unsigned int flags) {
    guarded(req, "rename", [&] {
        if ((flags & ~RENAME_NOREPLACE) != 0) return -EINVAL;  // RENAME_EXCHANGE, RENAME_WHITEOUT
        if (!in_root(parent) || !in_root(newparent)) return -ENOENT;
        return fs(req).rename(name, newname, (flags & RENAME_NOREPLACE) != 0);
    });
}

void op_fsync(fuse_req_t req, fuse_ino_t /*ino*/, int /*datasync*/, fuse_file_info* /*fi*/) {
    fuse_reply_err(req, 0);
}

void op_release(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
    const std::unique_ptr<OpenFile> file = front(req).files.take(fi->fh);
    fi->fh = 0;
    guarded(req, "release", [&] {
        if (file) fs(req).release(*file);
        return 0;
    });
}

// The root holds only rig files and git's plain files.
void op_mkdir(fuse_req_t req, fuse_ino_t, const char*, mode_t) { fuse_reply_err(req, EPERM); }
void op_mknod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) {
    fuse_reply_err(req, EPERM);
}
void op_symlink(fuse_req_t req, const char*, fuse_ino_t, const char*) {
    fuse_reply_err(req, EPERM);
}
void op_link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) { fuse_reply_err(req, EPERM); }
void op_rmdir(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, ENOTDIR); }

fuse_lowlevel_ops make_ops() {
    fuse_lowlevel_ops ops{};
    ops.lookup = op_lookup;
    ops.forget = op_forget;
    ops.forget_multi = op_forget_multi;
    ops.getattr = op_getattr;
    ops.setattr = op_setattr;
    ops.opendir = op_opendir;
    ops.readdir = op_readdir;
    ops.releasedir = op_releasedir;
    ops.open = op_open;
    ops.create = op_create;
    ops.read = op_read;
    ops.write = op_write;
    ops.unlink = op_unlink;
    ops.rename = op_rename;
    ops.fsync = op_fsync;
    ops.release = op_release;
    ops.mkdir = op_mkdir;
    ops.mknod = op_mknod;
    ops.symlink = op_symlink;
    ops.link = op_link;
    ops.rmdir = op_rmdir;
    return ops;
}

}  // namespace

const fuse_lowlevel_ops& fuse_ll_ops() {
    static const fuse_lowlevel_ops ops = make_ops();
    return ops;
}

void start_kernel_cache(Filesystem& fs, fuse_session* se, ServedFeed& feed) {
    // A negative offset drops the attributes only; 0 and length 0 every page too.
    fs.kernel_cache().set_invalidate([se](Ino ino, bool pages) {
        return fuse_lowlevel_notify_inval_inode(se, ino, pages ? 0 : -1, 0);
    });
    fs.kernel_cache().start();
    feed.subscribe([&fs](const std::string& file) { fs.served_changed(file); });
}

void stop_kernel_cache(Filesystem& fs, ServedFeed& feed) {
    feed.subscribe({});
    fs.kernel_cache().stop();
    fs.kernel_cache().set_invalidate({});
}

}  // namespace credfs
