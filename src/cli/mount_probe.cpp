#include "credfs/cli/mount_probe.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

#include "credfs/engine/status.hpp"
#include "credfs/helper/helper_client.hpp"

namespace credfs {

namespace {

// statfs(2)'s f_type for every FUSE file system (linux/magic.h).
constexpr long kFuseSuperMagic = 0x65735546;

std::string error_text(int err) { return std::error_code(err, std::generic_category()).message(); }

MountProbe fail(MountState state, std::string problem) {
    MountProbe p;
    p.state = state;
    p.problem = std::move(problem);
    return p;
}

MountProbe dead(const std::string& mountpoint) {
    return fail(MountState::Dead, mountpoint +
                                      ": daemon died (Transport endpoint is not connected); run "
                                      "gastown-creds-umount --mountpoint " +
                                      mountpoint);
}

MountProbe not_a_mount(const std::string& mountpoint, const std::string& why) {
    return fail(MountState::NotAMount, mountpoint + ": not a gastown-credfs mount (" + why +
                                           "; start one with gastown-creds-mount)");
}

MountProbe other_error(const std::string& mountpoint, const std::string& what, int err) {
    if (err == ENOTCONN) return dead(mountpoint);
    if (err == EACCES) {
        // allow_other is off: the kernel lets only the mounting user in.
        return fail(MountState::Unreadable, mountpoint + ": " + what + error_text(err) +
                                                " (only the user who mounted it can read it)");
    }
    return fail(MountState::Unreadable, mountpoint + ": " + what + error_text(err));
}

}  // namespace

MountProbe probe_mount(const std::string& mountpoint) {
    struct stat st {};
    if (::stat(mountpoint.c_str(), &st) != 0) {
        const int err = errno;
        if (err == ENOENT) return fail(MountState::Missing, mountpoint + ": no such directory");
        return other_error(mountpoint, "", err);
    }
    if (!S_ISDIR(st.st_mode))
        return fail(MountState::NotADirectory, mountpoint + ": not a directory");
    struct statfs fs {};
    if (::statfs(mountpoint.c_str(), &fs) != 0) return other_error(mountpoint, "", errno);
    if (static_cast<long>(fs.f_type) != kFuseSuperMagic) {
        return not_a_mount(mountpoint, "no FUSE file system is mounted there");
    }
    const std::string path = mountpoint + "/" + kStatusFile;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        if (err == ENOENT) return not_a_mount(mountpoint, std::string("no ") + kStatusFile);
        return other_error(mountpoint, std::string(kStatusFile) + ": ", err);
    }
    MountProbe p;
    std::array<char, 8192> buf{};
    while (true) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            return other_error(mountpoint, std::string(kStatusFile) + ": ", err);
        }
        if (n == 0) break;
        p.status_json.append(buf.data(), static_cast<size_t>(n));
    }
    ::close(fd);
    p.state = MountState::Live;
    return p;
}

DaemonProbe probe_daemon(const std::string& mountpoint) {
    DaemonProbe p;
    p.mount = probe_mount(mountpoint);
    p.socket = socket_for_mountpoint(mountpoint);
    if (p.mount.state == MountState::Live) {
        p.source = DaemonProbe::Source::Mount;
        p.status_json = p.mount.status_json;
        return p;
    }
    const DaemonAnswer answer = ask_daemon(p.socket, "status\n\n");
    if (answer.outcome == DaemonAnswer::Outcome::Answered && !answer.text.empty() &&
        !answer.text.starts_with("error=")) {
        p.source = DaemonProbe::Source::Socket;
        p.status_json = answer.text;
        return p;
    }
    struct stat st {};
    const bool left = p.mount.state == MountState::NotAMount &&
                      ::stat(p.socket.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
    p.problem = left ? mountpoint + ": no mount, and no daemon answers on " + p.socket +
                           " (stopped or died; start it again: gastown-creds-supervise)"
                     : p.mount.problem;
    return p;
}

}  // namespace credfs
