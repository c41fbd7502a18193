#include <gtest/gtest.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include <json/json.h>

#include "credfs/fs/filesystem.hpp"
#include "filesystem_fixture.hpp"

namespace credfs::test {
namespace {

TEST_F(FilesystemTest, RootListsRigFilesInConfigOrder) {
    NodeAttr attr;
    ASSERT_EQ(fs_.getattr(kRootIno, nullptr, attr), 0);
    EXPECT_TRUE(attr.is_dir);
    EXPECT_EQ(fs_.list(), (std::vector<std::string>{"rig-a", "b.cred", ".status", ".metrics"}));
}

TEST_F(FilesystemTest, RigFilesAre0600OwnedByTheMounterAndSizedToTheContent) {
    NodeAttr attr;
    ASSERT_EQ(fs_.lookup("b.cred", attr), 0);
    EXPECT_FALSE(attr.is_dir);
    EXPECT_EQ(attr.mode, 0600u);
    EXPECT_EQ(attr.uid, 1234u);
    EXPECT_EQ(attr.gid, 5678u);
    EXPECT_EQ(attr.size, 0);  // no token yet, and getattr never fetches one
    EXPECT_EQ(source_.calls(), 0);
    std::unique_ptr<OpenFile> file;
    ASSERT_EQ(open("b.cred", O_RDONLY, file), 0);
    ASSERT_EQ(fs_.lookup("b.cred", attr), 0);
    EXPECT_EQ(attr.size, static_cast<off_t>(credential_of(*file).content.size()));
}

TEST_F(FilesystemTest, UnknownNamesAndNestedPathsAreEnoent) {
    NodeAttr attr;
    std::unique_ptr<OpenFile> file;
    EXPECT_EQ(fs_.lookup("nope", attr), -ENOENT);
    EXPECT_EQ(fs_.lookup("rig-a/x", attr), -ENOENT);
    EXPECT_EQ(fs_.lookup("rig-b", attr), -ENOENT);  // id is not the file name
    EXPECT_EQ(open("nope", O_RDONLY, file), -ENOENT);
}

TEST_F(FilesystemTest, WritesAndTruncationAreRefused) {
    std::unique_ptr<OpenFile> file;
    EXPECT_EQ(open("rig-a", O_WRONLY, file), -EACCES);
    EXPECT_EQ(open("rig-a", O_RDWR, file), -EACCES);
    EXPECT_EQ(open("rig-a", O_RDONLY | O_TRUNC, file), -EACCES);
    EXPECT_EQ(fs_.open(kRootIno, O_RDONLY, file), -EISDIR);
    EXPECT_EQ(source_.calls(), 0);
}

TEST_F(FilesystemTest, ReadsServeTheSnapshotTakenAtOpen) {
    std::unique_ptr<OpenFile> file;
    ASSERT_EQ(open("rig-a", O_RDONLY, file), 0);
    const std::string expected = "https://x-access-token:ghs_tok1@github.com\n";
    char buf[128];
    ASSERT_EQ(fs_.read(*file, buf, 10, 0), 10);
    // A refresh between two reads must not mix tokens.
    clock_.advance(55);
    std::unique_ptr<OpenFile> later;
    ASSERT_EQ(open("rig-a", O_RDONLY, later), 0);
    EXPECT_EQ(credential_of(*later).token, "ghs_tok2");
    const ssize_t n = fs_.read(*file, buf + 10, sizeof buf - 10, 10);
    EXPECT_EQ(std::string(buf, 10 + n), expected);
    EXPECT_EQ(fs_.read(*file, buf, 10, static_cast<off_t>(expected.size())), 0);
    EXPECT_EQ(fs_.read(*file, buf, 10, 1 << 30), 0);
    // fstat on the old handle reports the old snapshot's size.
    NodeAttr attr;
    ASSERT_EQ(fs_.getattr(ino("rig-a"), file.get(), attr), 0);
    EXPECT_EQ(attr.size, static_cast<off_t>(expected.size()));
}

TEST_F(FilesystemTest, GitLockDanceRewritesARigFile) {
    std::unique_ptr<OpenFile> lock;
    ASSERT_EQ(create("rig-a.lock", O_RDWR | O_CREAT | O_EXCL, lock), 0);
    const std::string rewrite =
        "https://x-access-token:ghs_OLD@github.com\nhttps://a:b@gitlab.example\n";
    ASSERT_EQ(fs_.write(*lock, rewrite, 0, false), static_cast<ssize_t>(rewrite.size()));
    NodeAttr attr;
    ASSERT_EQ(fs_.getattr(ino("rig-a.lock"), lock.get(), attr), 0);
    EXPECT_EQ(attr.size, static_cast<off_t>(rewrite.size()));
    EXPECT_EQ(attr.mode, 0600u);
    fs_.release(*lock);
    EXPECT_EQ(fs_.list(),
              (std::vector<std::string>{"rig-a", "b.cred", ".status", ".metrics", "rig-a.lock"}));
    ASSERT_EQ(fs_.rename("rig-a.lock", "rig-a", false), 0);
    EXPECT_EQ(fs_.list(), (std::vector<std::string>{"rig-a", "b.cred", ".status", ".metrics"}));
    std::unique_ptr<OpenFile> file;
    ASSERT_EQ(open("rig-a", O_RDONLY, file), 0);
    EXPECT_EQ(credential_of(*file).content,
              "https://x-access-token:ghs_tok1@github.com\nhttps://a:b@gitlab.example\n");
}

// The kernel holds inode numbers across calls: a rig file's must survive
// git's rename of a lock over it, or an open racing the rename gets ESTALE.
TEST_F(FilesystemTest, ARigFileKeepsItsInodeAcrossGitsRewrite) {
    NodeAttr root, rig, other, lock_attr, after;
    ASSERT_EQ(fs_.getattr(kRootIno, nullptr, root), 0);
    EXPECT_EQ(root.ino, kRootIno);
    ASSERT_EQ(fs_.lookup("rig-a", rig), 0);
    ASSERT_EQ(fs_.lookup("b.cred", other), 0);
    EXPECT_NE(rig.ino, other.ino);
    EXPECT_NE(rig.ino, kRootIno);
    std::unique_ptr<OpenFile> lock;
    ASSERT_EQ(create("rig-a.lock", O_RDWR | O_CREAT | O_EXCL, lock), 0);
    ASSERT_EQ(fs_.getattr(ino("rig-a.lock"), lock.get(), lock_attr), 0);
    EXPECT_NE(lock_attr.ino, rig.ino);
    EXPECT_EQ(fs_.name_of(lock_attr.ino), "rig-a.lock");
    fs_.release(*lock);
    ASSERT_EQ(fs_.rename("rig-a.lock", "rig-a", false), 0);

    ASSERT_EQ(fs_.lookup("rig-a", after), 0);
    EXPECT_EQ(after.ino, rig.ino);
    EXPECT_EQ(fs_.name_of(rig.ino), "rig-a");
    EXPECT_EQ(fs_.name_of(lock_attr.ino), std::nullopt);  // gone: the edge answers ESTALE
    EXPECT_EQ(fs_.name_of(kRootIno), "");
    EXPECT_EQ(fs_.name_of(kStatusIno), ".status");
    EXPECT_EQ(fs_.name_of(kMetricsIno), ".metrics");
    EXPECT_EQ(fs_.name_of(999), std::nullopt);
}

// A scratch file is one inode from creation to unlink: a rename moves it, and
// a new file with an old name is a new inode.
TEST_F(FilesystemTest, ScratchFilesKeepTheirInodeAcrossRenames) {
    std::unique_ptr<OpenFile> f;
    NodeAttr first, moved, again;
    ASSERT_EQ(create("other", O_WRONLY | O_CREAT, f), 0);
    fs_.release(*f);
    ASSERT_EQ(fs_.lookup("other", first), 0);
    ASSERT_EQ(fs_.rename("other", "moved", false), 0);
    ASSERT_EQ(fs_.lookup("moved", moved), 0);
    EXPECT_EQ(moved.ino, first.ino);
    EXPECT_EQ(fs_.name_of(first.ino), "moved");
    ASSERT_EQ(create("other", O_WRONLY | O_CREAT, f), 0);
    fs_.release(*f);
    ASSERT_EQ(fs_.lookup("other", again), 0);
    EXPECT_NE(again.ino, first.ino);
    ASSERT_EQ(fs_.unlink("moved"), 0);
    EXPECT_EQ(fs_.name_of(first.ino), std::nullopt);
}

TEST_F(FilesystemTest, RigFilesCannotBeCreatedRemovedOrRenamedAway) {
    std::unique_ptr<OpenFile> file;
    EXPECT_EQ(create("rig-a", O_WRONLY | O_CREAT | O_EXCL, file), -EEXIST);
    EXPECT_EQ(create("rig-a", O_WRONLY | O_CREAT | O_TRUNC, file), -EACCES);
    EXPECT_EQ(fs_.unlink("rig-a"), -EPERM);
    EXPECT_EQ(fs_.rename("rig-a", "x", false), -EPERM);
    EXPECT_EQ(fs_.truncate(ino("rig-a"), nullptr, 0), -EACCES);
    EXPECT_EQ(fs_.rename("missing.lock", "rig-a", false), -ENOENT);
    EXPECT_EQ(source_.calls(), 0);
}

TEST_F(FilesystemTest, OtherFilesBehaveLikeASmallDirectory) {
    std::unique_ptr<OpenFile> f;
    ASSERT_EQ(create("other", O_WRONLY | O_CREAT, f), 0);
    ASSERT_EQ(fs_.write(*f, "one\n", 0, false), 4);
    fs_.release(*f);
    std::unique_ptr<OpenFile> a;
    ASSERT_EQ(open("other", O_WRONLY | O_APPEND, a), 0);
    ASSERT_EQ(fs_.write(*a, "two\n", 0, true), 4);  // O_APPEND
    fs_.release(*a);
    std::unique_ptr<OpenFile> r;
    ASSERT_EQ(open("other", O_RDONLY, r), 0);
    char buf[64];
    const ssize_t n = fs_.read(*r, buf, sizeof buf, 0);
    EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "one\ntwo\n");
    fs_.release(*r);
    ASSERT_EQ(fs_.rename("other", "renamed", false), 0);
    ASSERT_EQ(create("x", O_WRONLY | O_CREAT, f), 0);
    fs_.release(*f);
    EXPECT_EQ(fs_.rename("x", "renamed", true), -EEXIST);
    EXPECT_EQ(fs_.rename("x", "rig-a", true), -EEXIST);
    EXPECT_EQ(fs_.truncate(ino("renamed"), nullptr, 3), 0);
    NodeAttr attr;
    ASSERT_EQ(fs_.lookup("renamed", attr), 0);
    EXPECT_EQ(attr.size, 3);
    EXPECT_EQ(fs_.unlink("renamed"), 0);
    EXPECT_EQ(fs_.lookup("renamed", attr), -ENOENT);
    EXPECT_EQ(create(std::string(256, 'n'), O_CREAT, f), -ENAMETOOLONG);
    EXPECT_EQ(source_.calls(), 0);
}

// The kernel answers O_CREAT|O_EXCL from its lookup alone, so a stale lock
// must vanish at lookup or git's create never reaches the daemon.
TEST_F(FilesystemTest, LookupHidesAStaleLockSoExclusiveCreateReachesUs) {
    std::unique_ptr<OpenFile> lock;
    ASSERT_EQ(create("rig-a.lock", O_RDWR | O_CREAT | O_EXCL, lock), 0);
    fs_.release(*lock);
    NodeAttr attr;
    EXPECT_EQ(fs_.lookup("rig-a.lock", attr), 0);
    clock_.advance(6);
    EXPECT_EQ(fs_.lookup("rig-a.lock", attr), -ENOENT);
    EXPECT_EQ(create("rig-a.lock", O_RDWR | O_CREAT | O_EXCL, lock), 0);
}

TEST_F(FilesystemTest, StatusIsReadOnlyJsonWithoutTokens) {
    fs_.set_status_info(StatusInfo{"9.9.9", clock_.now()});
    std::unique_ptr<OpenFile> rig;
    ASSERT_EQ(open("rig-a", O_RDONLY, rig), 0);
    std::unique_ptr<OpenFile> st;
    ASSERT_EQ(open(".status", O_RDONLY, st), 0);
    char buf[8192];
    const ssize_t n = fs_.read(*st, buf, sizeof buf, 0);
    const std::string text(buf, static_cast<size_t>(n));
    Json::Value root;
    ASSERT_TRUE(Json::Reader().parse(text, root)) << text;
    EXPECT_EQ(root["version"].asString(), "9.9.9");
    EXPECT_EQ(root["mode"].asString(), "mount");
    ASSERT_EQ(root["rigs"].size(), 2u);
    EXPECT_EQ(root["rigs"][0]["file"].asString(), "rig-a");
    EXPECT_EQ(root["rigs"][0]["state"].asString(), "ok");
    EXPECT_EQ(root["rigs"][0]["refreshes"].asUInt64(), 1u);
    EXPECT_EQ(root["rigs"][1]["state"].asString(), "no token");
    EXPECT_EQ(text.find("ghs_"), std::string::npos);
    NodeAttr attr;
    ASSERT_EQ(fs_.getattr(ino(".status"), st.get(), attr), 0);
    EXPECT_EQ(attr.size, n);
    EXPECT_EQ(attr.mode, 0400u);
    std::unique_ptr<OpenFile> w;
    EXPECT_EQ(open(".status", O_WRONLY, w), -EACCES);
    EXPECT_EQ(create(".status", O_CREAT | O_EXCL | O_WRONLY, w), -EEXIST);
    EXPECT_EQ(fs_.unlink(".status"), -EPERM);
}

// .metrics is served like .status: listed, 0400, its own fixed inode,
// rendered at open, and every way of changing it refused.
TEST_F(FilesystemTest, MetricsIsReadOnlyLikeStatus) {
    fs_.set_status_info(StatusInfo{"9.9.9", clock_.now()});
    std::unique_ptr<OpenFile> rig;
    ASSERT_EQ(open("rig-a", O_RDONLY, rig), 0);
    const std::vector<std::string> names = fs_.list();
    EXPECT_NE(std::find(names.begin(), names.end(), ".metrics"), names.end());

    NodeAttr stat_attr;
    ASSERT_EQ(fs_.lookup(".metrics", stat_attr), 0);
    EXPECT_EQ(stat_attr.ino, kMetricsIno);
    EXPECT_EQ(stat_attr.mode, 0400u);
    EXPECT_FALSE(stat_attr.is_dir);
    std::unique_ptr<OpenFile> m;
    ASSERT_EQ(open(".metrics", O_RDONLY, m), 0);
    std::string text(static_cast<size_t>(stat_attr.size) + 100, '\0');
    const ssize_t n = fs_.read(*m, text.data(), text.size(), 0);
    ASSERT_GT(n, 0);
    text.resize(static_cast<size_t>(n));
    EXPECT_EQ(n, stat_attr.size);  // stat reports what an open reads
    EXPECT_NE(text.find("gastown_credfs_refreshes_total{rig=\"rig-a\",file=\"rig-a\"} 1\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("gastown_credfs_build_info{version=\"9.9.9\"} 1\n"), std::string::npos);
    EXPECT_EQ(text.find("ghs_"), std::string::npos);
    EXPECT_EQ(text.find(credential_of(*rig).token), std::string::npos);

    NodeAttr fattr;
    ASSERT_EQ(fs_.getattr(ino(".metrics"), m.get(), fattr), 0);  // fstat: the handle's bytes
    EXPECT_EQ(fattr.ino, kMetricsIno);
    EXPECT_EQ(fattr.size, n);
    EXPECT_EQ(fattr.mode, 0400u);
    std::unique_ptr<OpenFile> st;
    ASSERT_EQ(open(".status", O_RDONLY, st), 0);
    ASSERT_EQ(fs_.getattr(ino(".status"), st.get(), fattr), 0);
    EXPECT_EQ(fattr.ino, kStatusIno);  // the two blobs keep their own inodes

    std::unique_ptr<OpenFile> w;
    EXPECT_EQ(open(".metrics", O_WRONLY, w), -EACCES);
    EXPECT_EQ(open(".metrics", O_RDONLY | O_TRUNC, w), -EACCES);
    EXPECT_EQ(create(".metrics", O_CREAT | O_EXCL | O_WRONLY, w), -EEXIST);
    EXPECT_EQ(create(".metrics", O_CREAT | O_WRONLY, w), -EACCES);
    EXPECT_EQ(fs_.write(*m, "x", 0, false), -EBADF);
    EXPECT_EQ(fs_.truncate(ino(".metrics"), nullptr, 0), -EACCES);
    EXPECT_EQ(fs_.unlink(".metrics"), -EPERM);
    ASSERT_EQ(create("x.tmp", O_CREAT | O_EXCL | O_WRONLY, w), 0);
    fs_.release(*w);
    EXPECT_EQ(fs_.rename("x.tmp", ".metrics", false), -EPERM);
    EXPECT_EQ(fs_.rename(".metrics", "y", false), -EPERM);
    EXPECT_EQ(fs_.lookup(".metrics", stat_attr), 0);  // still there
}

TEST_F(FilesystemTest, LookupRefusesNamesPastNameMax) {
    NodeAttr attr;
    EXPECT_EQ(fs_.lookup(std::string(256, 'n'), attr), -ENAMETOOLONG);
    EXPECT_EQ(fs_.lookup(std::string(255, 'n'), attr), -ENOENT);
}

// A file named like one of the daemon's in the directory under the mount is
// hidden: the root lists each name once, and it is the daemon's file.
TEST_F(FilesystemBacking, DaemonFilesShadowBackingFilesOfTheSameName) {
    ASSERT_EQ(backing_.write_atomic(".metrics", "stale copy\n"), 0);
    ASSERT_EQ(backing_.write_atomic(".status", "stale copy\n"), 0);
    ASSERT_EQ(backing_.write_atomic("notes.txt", "kept\n"), 0);
    EXPECT_EQ(fs_.list(), (std::vector<std::string>{"rig-a", ".status", ".metrics", "notes.txt"}));
    std::unique_ptr<OpenFile> m;
    NodeAttr attr;
    ASSERT_EQ(fs_.lookup(".metrics", attr), 0);
    ASSERT_EQ(fs_.open(attr.ino, O_RDONLY, m), 0);
    const auto* blob = std::get_if<RenderedFile>(m.get());
    ASSERT_NE(blob, nullptr);
    EXPECT_FALSE(std::holds_alternative<PassthroughFile>(*m));
    EXPECT_EQ(blob->content.rfind("# HELP gastown_credfs_", 0), 0u);
}

}  // namespace
}  // namespace credfs::test
