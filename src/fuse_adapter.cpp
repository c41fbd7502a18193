#include "credfs/fuse_adapter.hpp"

#include <spdlog/spdlog.h>

#include <linux/fs.h>  // RENAME_NOREPLACE
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "credfs/filesystem.hpp"

namespace credfs {

namespace {

Filesystem& fs() { return *static_cast<Filesystem*>(fuse_get_context()->private_data); }

/// With nullpath_ok, libfuse passes no path for operations on open handles.
std::string_view path_or_empty(const char* path) { return path != nullptr ? path : ""; }

/// One catch per operation: nothing may unwind into libfuse's C code.
template <class Op>
int guarded(const char* name, Op op) noexcept {
    try {
        return op();
    } catch (const std::exception& e) {
        spdlog::error("{}: {}", name, e.what());
    } catch (...) {
        spdlog::error("{}: unknown exception", name);
    }
    return -EIO;
}

OpenFile* handle(const fuse_file_info* fi) {
    return fi == nullptr ? nullptr : reinterpret_cast<OpenFile*>(fi->fh);
}

void* op_init(fuse_conn_info* /*conn*/, fuse_config* cfg) {
    cfg->entry_timeout = 0;
    cfg->negative_timeout = 0;
    cfg->attr_timeout = 0;
    cfg->kernel_cache = 0;
    cfg->direct_io = 1;
    // git renames <file>.lock over a rig file that readers may hold open.
    // hard_remove: no ".fuse_hidden" rename of the open target (which rig
    // files refuse); nullpath_ok: operations on an open handle go by the
    // handle, so a node replaced by that rename does not fail with ESTALE.
    cfg->hard_remove = 1;
    cfg->nullpath_ok = 1;
    return fuse_get_context()->private_data;
}

int op_getattr(const char* path, struct stat* st, fuse_file_info* fi) {
    return guarded("getattr", [&] {
        NodeAttr attr;
        // No path and no file handle: fstat on the root directory's handle.
        const std::string_view where = path != nullptr ? path : (handle(fi) != nullptr ? "" : "/");
        const int rc = fs().getattr(where, handle(fi), attr);
        if (rc != 0) return rc;
        std::memset(st, 0, sizeof *st);
        st->st_mode = (attr.is_dir ? S_IFDIR : S_IFREG) | attr.mode;
        st->st_nlink = attr.is_dir ? 2 : 1;
        st->st_size = attr.size;
        st->st_uid = attr.uid;
        st->st_gid = attr.gid;
        const auto ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(attr.mtime.time_since_epoch())
                .count();
        st->st_mtim = {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
        st->st_ctim = st->st_mtim;
        st->st_atim = st->st_mtim;
        return 0;
    });
}

int op_readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t /*offset*/,
               fuse_file_info* /*fi*/, fuse_readdir_flags /*flags*/) {
    // With nullpath_ok the path is null on the directory handle: the root.
    if (path != nullptr && std::strcmp(path, "/") != 0) return -ENOTDIR;
    return guarded("readdir", [&] {
        fill(buf, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
        fill(buf, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
        for (const auto& name : fs().list()) {
            fill(buf, name.c_str(), nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
        }
        return 0;
    });
}

int op_open(const char* path, fuse_file_info* fi) {
    return guarded("open", [&] {
        std::unique_ptr<OpenFile> file;
        const int rc = fs().open(path, fi->flags, file);
        if (rc != 0) return rc;
        fi->direct_io = 1;
        fi->keep_cache = 0;
        fi->fh = reinterpret_cast<uint64_t>(file.release());
        return 0;
    });
}

int op_create(const char* path, mode_t /*mode*/, fuse_file_info* fi) {
    return guarded("create", [&] {
        std::unique_ptr<OpenFile> file;
        const int rc = fs().create(path, fi->flags, file);
        if (rc != 0) return rc;
        fi->direct_io = 1;
        fi->fh = reinterpret_cast<uint64_t>(file.release());
        return 0;
    });
}

int op_read(const char* /*path*/, char* buf, size_t size, off_t offset, fuse_file_info* fi) {
    const OpenFile* file = handle(fi);
    if (file == nullptr) return -EBADF;
    return guarded("read", [&] { return static_cast<int>(fs().read(*file, buf, size, offset)); });
}

int op_write(const char* /*path*/, const char* buf, size_t size, off_t offset, fuse_file_info* fi) {
    const OpenFile* file = handle(fi);
    if (file == nullptr) return -EBADF;
    return guarded("write", [&] {
        return static_cast<int>(fs().write(*file, std::string_view(buf, size), offset));
    });
}

int op_truncate(const char* path, off_t size, fuse_file_info* fi) {
    return guarded("truncate",
                   [&] { return fs().truncate(path_or_empty(path), handle(fi), size); });
}

int op_unlink(const char* path) {
    return guarded("unlink", [&] { return fs().unlink(path); });
}

int op_rename(const char* from, const char* to, unsigned int flags) {
    if ((flags & ~RENAME_NOREPLACE) != 0) return -EINVAL;  // RENAME_EXCHANGE, RENAME_WHITEOUT
    return guarded("rename",
                   [&] { return fs().rename(from, to, (flags & RENAME_NOREPLACE) != 0); });
}

int op_utimens(const char* path, const struct timespec tv[2], fuse_file_info* /*fi*/) {
    return guarded("utimens", [&] {
        WallTime mtime = WallClock::now();
        if (tv != nullptr && tv[1].tv_nsec != UTIME_NOW && tv[1].tv_nsec != UTIME_OMIT) {
            mtime = WallTime{} + std::chrono::duration_cast<WallClock::duration>(
                                     std::chrono::seconds(tv[1].tv_sec) +
                                     std::chrono::nanoseconds(tv[1].tv_nsec));
        }
        if (tv != nullptr && tv[1].tv_nsec == UTIME_OMIT) return 0;
        return fs().set_mtime(path, mtime);
    });
}

// Modes and owners are fixed (0600, the mounting user); accepting chmod and
// chown keeps tools that set them (e.g. after creating a file) working.
int op_chmod(const char* path, mode_t /*mode*/, fuse_file_info* fi) {
    NodeAttr attr;
    return guarded("chmod", [&] { return fs().getattr(path_or_empty(path), handle(fi), attr); });
}

int op_chown(const char* path, uid_t /*uid*/, gid_t /*gid*/, fuse_file_info* fi) {
    NodeAttr attr;
    return guarded("chown", [&] { return fs().getattr(path_or_empty(path), handle(fi), attr); });
}

// The root holds only rig files and git's plain files.
int op_mkdir(const char*, mode_t) { return -EPERM; }
int op_mknod(const char*, mode_t, dev_t) { return -EPERM; }
int op_symlink(const char*, const char*) { return -EPERM; }
int op_link(const char*, const char*) { return -EPERM; }

int op_flush(const char* /*path*/, fuse_file_info* /*fi*/) { return 0; }

int op_fsync(const char* /*path*/, int /*datasync*/, fuse_file_info* /*fi*/) { return 0; }

int op_release(const char* /*path*/, fuse_file_info* fi) {
    OpenFile* file = handle(fi);
    if (file != nullptr) {
        guarded("release", [&] {
            fs().release(*file);
            return 0;
        });
    }
    delete file;
    fi->fh = 0;
    return 0;
}

fuse_operations make_ops() {
    fuse_operations ops{};
    ops.init = op_init;
    ops.getattr = op_getattr;
    ops.readdir = op_readdir;
    ops.open = op_open;
    ops.create = op_create;
    ops.read = op_read;
    ops.write = op_write;
    ops.truncate = op_truncate;
    ops.unlink = op_unlink;
    ops.rename = op_rename;
    ops.utimens = op_utimens;
    ops.chmod = op_chmod;
    ops.chown = op_chown;
    ops.mkdir = op_mkdir;
    ops.mknod = op_mknod;
    ops.symlink = op_symlink;
    ops.link = op_link;
    ops.flush = op_flush;
    ops.fsync = op_fsync;
    ops.release = op_release;
    return ops;
}

}  // namespace

const fuse_operations& fuse_ops() {
    static const fuse_operations ops = make_ops();
    return ops;
}

}  // namespace credfs
