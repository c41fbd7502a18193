// Access control: the rig files hold push credentials, so only the user who
// mounted may read them. allow_other is off (docs/deployment.md) and
// default_permissions makes the kernel enforce the 0600 modes the daemon
// reports; another uid must get EACCES whatever it tries.
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

// No passwd entry needed: root may take any uid, and one nobody uses proves
// the rule is the mount's, not a group or ACL that happens to match.
constexpr uid_t kOtherUid = 54321;
constexpr gid_t kOtherGid = 54321;

enum class Probe { Open, Stat, List };

/// Runs `probe` on `path` in a child that dropped to kOtherUid; the errno it
/// got (0 on success), or -1 when the child could not drop privileges.
int errno_as_other_user(const std::string& path, Probe probe) {
    const pid_t child = ::fork();
    if (child == 0) {
        // Only async-signal-safe calls until _exit: the parent has threads.
        if (::setgroups(0, nullptr) != 0 || ::setgid(kOtherGid) != 0 || ::setuid(kOtherUid) != 0) {
            ::_exit(255);
        }
        int rc = 0;
        struct stat st {};
        if (probe == Probe::Open) {
            rc = ::open(path.c_str(), O_RDONLY);
        } else if (probe == Probe::Stat) {
            rc = ::stat(path.c_str(), &st);
        } else {
            rc = ::open(path.c_str(), O_RDONLY | O_DIRECTORY);
        }
        ::_exit(rc >= 0 ? 0 : (errno & 0x7f));
    }
    int status = 0;
    if (child < 0 || ::waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -1;
    const int code = WEXITSTATUS(status);
    return code == 255 ? -1 : code;
}

class AccessTest : public MountTest {};

TEST_F(AccessTest, RigFilesAre0600AndOwnedByTheMountingUser) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    for (const char* name : {"rig-a", ".status"}) {
        struct stat st {};
        ASSERT_EQ(::stat(harness_.file(name).c_str(), &st), 0) << name;
        EXPECT_EQ(st.st_uid, ::getuid()) << name;
        EXPECT_EQ(st.st_gid, ::getgid()) << name;
        EXPECT_EQ(st.st_mode & 0077, 0u) << name << ": group or others have access";
    }
    struct stat rig {};
    ASSERT_EQ(::stat(harness_.file("rig-a").c_str(), &rig), 0);
    EXPECT_EQ(rig.st_mode & 07777, 0600u);
}

TEST_F(AccessTest, AnotherUserCannotReadStatOrListTheMount) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    ASSERT_TRUE(wait_for_token("rig-a"));
    const int upstream_calls = fake_.calls();
    // Controls beside the mountpoint: the temp dir (mkdtemp: 0700) is opened
    // up so the child can reach the mount at all; it reads a 0644 file there
    // (so an EACCES below is the mount's) and not a 0600 one (so it really
    // is unprivileged).
    ASSERT_EQ(::chmod(harness_.root().c_str(), 0755), 0) << std::strerror(errno);
    for (const auto& [name, mode] :
         {std::pair{"plain-0644", 0644}, std::pair{"plain-0600", 0600}}) {
        const int fd = ::open((harness_.root() + "/" + name).c_str(), O_CREAT | O_WRONLY | O_EXCL,
                              static_cast<mode_t>(mode));
        ASSERT_GE(fd, 0) << std::strerror(errno);
        ::close(fd);
    }
    ASSERT_EQ(errno_as_other_user(harness_.root() + "/plain-0644", Probe::Open), 0);
    ASSERT_EQ(errno_as_other_user(harness_.root() + "/plain-0600", Probe::Open), EACCES);

    EXPECT_EQ(errno_as_other_user(harness_.file("rig-a"), Probe::Open), EACCES);
    EXPECT_EQ(errno_as_other_user(harness_.file("rig-a"), Probe::Stat), EACCES);
    EXPECT_EQ(errno_as_other_user(harness_.file(".status"), Probe::Open), EACCES);
    EXPECT_EQ(errno_as_other_user(harness_.mountpoint(), Probe::List), EACCES);
    // Refused by the kernel before the daemon is asked: no refresh either.
    EXPECT_EQ(fake_.calls(), upstream_calls);
    // The mounting user still reads.
    const ReadResult r = read_whole_file(harness_.file("rig-a"));
    EXPECT_EQ(r.error, 0);
    EXPECT_TRUE(token_from_line(r.data));
}

}  // namespace
}  // namespace credfs::itest
