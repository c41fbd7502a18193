#include "credfs/fs/open_file.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "credfs/core/overloaded.hpp"

namespace credfs {

namespace {

ssize_t copy_out(std::string_view content, char* buf, size_t size, off_t offset) {
    if (offset < 0 || static_cast<size_t>(offset) >= content.size()) return 0;
    const size_t n = std::min(size, content.size() - static_cast<size_t>(offset));
    std::memcpy(buf, content.data() + offset, n);
    return static_cast<ssize_t>(n);
}

}  // namespace

PassthroughFile& PassthroughFile::operator=(PassthroughFile&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = other.fd_;
        other.fd_ = -1;
    }
    return *this;
}

void PassthroughFile::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

ssize_t read_open_file(const OpenFile& file, const Scratch& scratch, char* buf, size_t size,
                       off_t offset) {
    return std::visit(
        Overloaded{
            [&](const RigFile& f) { return copy_out(f.credential->content, buf, size, offset); },
            [&](const RenderedFile& f) { return copy_out(f.content, buf, size, offset); },
            [&](const PassthroughFile& f) -> ssize_t {
                const ssize_t n = ::pread(f.fd(), buf, size, offset);
                return n < 0 ? -errno : n;
            },
            [&](const ScratchFile& f) {
                std::string chunk;
                scratch.read(f.handle, size, offset, chunk);
                // A byte range of a file, not a C string: no terminator belongs in it.
                // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
                std::memcpy(buf, chunk.data(), chunk.size());
                return static_cast<ssize_t>(chunk.size());
            },
        },
        file);
}

ssize_t write_open_file(const OpenFile& file, Scratch& scratch, std::string_view data, off_t offset,
                        bool append) {
    const auto* f = std::get_if<ScratchFile>(&file);
    return f == nullptr ? -EBADF : scratch.write(f->handle, data, offset, append);
}

void release_open_file(OpenFile& file, Scratch& scratch) {
    std::visit(Overloaded{
                   [&](ScratchFile& f) { scratch.release(f.handle); },
                   [](PassthroughFile& f) { f.close(); },
                   [](const RigFile&) {},
                   [](const RenderedFile&) {},
               },
               file);
}

}  // namespace credfs
