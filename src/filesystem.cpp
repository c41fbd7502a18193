#include "credfs/filesystem.hpp"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

namespace credfs {

Filesystem::Filesystem(const RigRegistry& registry, uid_t uid, gid_t gid, WallTime mounted_at)
    : registry_(registry), uid_(uid), gid_(gid), mounted_at_(mounted_at) {}

Rig* Filesystem::rig_at(std::string_view path) const {
    if (path.size() < 2 || path.front() != '/') return nullptr;
    const std::string_view name = path.substr(1);
    if (name.find('/') != std::string_view::npos) return nullptr;
    return registry_.find(name);
}

int Filesystem::getattr(std::string_view path, const OpenFile* open, NodeAttr& out) const {
    out = NodeAttr{};
    out.uid = uid_;
    out.gid = gid_;
    out.mtime = mounted_at_;
    if (path == "/") {
        out.is_dir = true;
        out.mode = 0700;
        return 0;
    }
    const Rig* rig = rig_at(path);
    if (rig == nullptr) return -ENOENT;
    out.mode = 0600;
    const CredentialPtr cred = open != nullptr ? open->credential : rig->current();
    if (cred) {
        out.size = static_cast<off_t>(cred->content.size());
        out.mtime = cred->fetched_at;
    }
    return 0;
}

std::vector<std::string> Filesystem::list() const {
    std::vector<std::string> names;
    names.reserve(registry_.rigs().size());
    for (const auto& rig : registry_.rigs()) names.push_back(rig->config().file);
    return names;
}

int Filesystem::open(std::string_view path, int flags, std::unique_ptr<OpenFile>& out) const {
    if (path == "/") return -EISDIR;
    Rig* rig = rig_at(path);
    if (rig == nullptr) return -ENOENT;
    if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0) return -EACCES;
    ReadResult result = rig->credential_for_read();
    if (result.error != 0) return -result.error;
    out = std::make_unique<OpenFile>(OpenFile{std::move(result.credential)});
    return 0;
}

size_t Filesystem::read(const OpenFile& file, char* buf, size_t size, off_t offset) {
    const std::string& content = file.credential->content;
    if (offset < 0 || static_cast<size_t>(offset) >= content.size()) return 0;
    const size_t n = std::min(size, content.size() - static_cast<size_t>(offset));
    std::memcpy(buf, content.data() + offset, n);
    return n;
}

}  // namespace credfs
