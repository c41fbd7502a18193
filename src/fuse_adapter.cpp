#include "credfs/fuse_adapter.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "credfs/filesystem.hpp"

namespace credfs {

namespace {

Filesystem& fs() { return *static_cast<Filesystem*>(fuse_get_context()->private_data); }

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
    return fuse_get_context()->private_data;
}

int op_getattr(const char* path, struct stat* st, fuse_file_info* fi) {
    return guarded("getattr", [&] {
        NodeAttr attr;
        const int rc = fs().getattr(path, handle(fi), attr);
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
    if (std::strcmp(path, "/") != 0) return -ENOTDIR;
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

int op_read(const char* /*path*/, char* buf, size_t size, off_t offset, fuse_file_info* fi) {
    const OpenFile* file = handle(fi);
    if (file == nullptr) return -EBADF;
    return static_cast<int>(Filesystem::read(*file, buf, size, offset));
}

int op_release(const char* /*path*/, fuse_file_info* fi) {
    delete handle(fi);
    fi->fh = 0;
    return 0;
}

fuse_operations make_ops() {
    fuse_operations ops{};
    ops.init = op_init;
    ops.getattr = op_getattr;
    ops.readdir = op_readdir;
    ops.open = op_open;
    ops.read = op_read;
    ops.release = op_release;
    return ops;
}

}  // namespace

const fuse_operations& fuse_ops() {
    static const fuse_operations ops = make_ops();
    return ops;
}

}  // namespace credfs
