// The kinds of OpenFile (open_file.hpp), each through the whole life the
// kernel gives a handle: open, read, write, fstat, release.
#include <gtest/gtest.h>

#include <fcntl.h>

#include <json/json.h>

#include <cerrno>
#include <memory>
#include <string>
#include <variant>

#include "filesystem_fixture.hpp"

namespace credfs::test {
namespace {

// .status is rendered once, at open: a reload between open and read changes
// what a new open sees, never what the open handle reads or fstat reports.
TEST_F(FilesystemTest, AStatusHandleKeepsItsRenderingAfterTheRigSetChanged) {
    std::unique_ptr<OpenFile> before;
    ASSERT_EQ(open(".status", O_RDONLY, before), 0);
    ASSERT_TRUE(std::holds_alternative<RenderedFile>(*before));
    Config one = test::two_rig_config();
    one.rigs.pop_back();  // b.cred goes
    registry_.reload(std::make_shared<const Config>(one), borrowed(source_));

    Json::Value old_json, new_json;
    const std::string old_text = read_all(fs_, *before);
    ASSERT_TRUE(Json::Reader().parse(old_text, old_json)) << old_text;
    EXPECT_EQ(old_json["rigs"].size(), 2u);
    NodeAttr attr;
    ASSERT_EQ(fs_.getattr(kStatusIno, before.get(), attr), 0);
    EXPECT_EQ(attr.size, static_cast<off_t>(old_text.size()));

    std::unique_ptr<OpenFile> after;
    ASSERT_EQ(open(".status", O_RDONLY, after), 0);
    const std::string new_text = read_all(fs_, *after);
    ASSERT_TRUE(Json::Reader().parse(new_text, new_json)) << new_text;
    EXPECT_EQ(new_json["rigs"].size(), 1u);
    ASSERT_EQ(fs_.lookup(".status", attr), 0);
    EXPECT_EQ(attr.size, static_cast<off_t>(new_text.size()));
    fs_.release(*before);
    fs_.release(*after);
}

// A reload that removes a rig leaves its inode gone (the kernel looks the
// name up again) while a handle opened before keeps serving its snapshot.
TEST_F(FilesystemTest, ARemovedRigsInodeIsStaleButItsOpenHandleKeepsItsSnapshot) {
    const Ino b = ino("b.cred");
    std::unique_ptr<OpenFile> held;
    ASSERT_EQ(fs_.open(b, O_RDONLY, held), 0);
    const std::string content = credential_of(*held).content;
    Config one = test::two_rig_config();
    one.rigs.pop_back();
    registry_.reload(std::make_shared<const Config>(one), borrowed(source_));

    NodeAttr attr;
    std::unique_ptr<OpenFile> file;
    EXPECT_EQ(fs_.getattr(b, nullptr, attr), -ESTALE);
    EXPECT_EQ(fs_.open(b, O_RDONLY, file), -ESTALE);
    EXPECT_EQ(fs_.truncate(b, nullptr, 0), -ESTALE);
    EXPECT_EQ(fs_.set_mtime(b, WallTime{}), -ESTALE);
    EXPECT_EQ(fs_.name_of(b), std::nullopt);
    EXPECT_EQ(fs_.lookup("b.cred", attr), -ENOENT);
    ASSERT_EQ(fs_.getattr(b, held.get(), attr), 0);  // fstat: the handle's snapshot
    EXPECT_EQ(attr.size, static_cast<off_t>(content.size()));
    EXPECT_EQ(read_all(fs_, *held), content);
    fs_.release(*held);
}

// Rig and rendered files are read-only snapshots: writes are refused, and
// release leaves the bytes to the handle's owner.
TEST_F(FilesystemTest, SnapshotHandlesRefuseWritesAndReleaseNothingShared) {
    std::unique_ptr<OpenFile> rig, metrics;
    ASSERT_EQ(open("rig-a", O_RDONLY, rig), 0);
    ASSERT_EQ(open(".metrics", O_RDONLY, metrics), 0);
    ASSERT_TRUE(std::holds_alternative<RigFile>(*rig));
    ASSERT_TRUE(std::holds_alternative<RenderedFile>(*metrics));
    EXPECT_EQ(fs_.write(*rig, "x", 0, false), -EBADF);
    EXPECT_EQ(fs_.write(*metrics, "x", 0, true), -EBADF);
    EXPECT_EQ(fs_.truncate(ino("rig-a"), rig.get(), 0), -EACCES);
    EXPECT_EQ(fs_.truncate(kMetricsIno, metrics.get(), 0), -EACCES);
    const std::string content = credential_of(*rig).content;
    fs_.release(*rig);
    fs_.release(*metrics);
    EXPECT_EQ(read_all(fs_, *rig), content);
    EXPECT_EQ(source_.calls(), 1);
}

// A scratch handle counts as an open of its file until release: an unlinked
// file stays reachable by inode, and a held lock file is never stale.
TEST_F(FilesystemTest, ReleasingAScratchHandleEndsItsOpen) {
    std::unique_ptr<OpenFile> tmp;
    NodeAttr attr;
    ASSERT_EQ(fs_.create("tmp", O_RDWR | O_CREAT, tmp, attr), 0);
    ASSERT_TRUE(std::holds_alternative<ScratchFile>(*tmp));
    const Ino tmp_ino = attr.ino;
    EXPECT_GE(tmp_ino, kFirstScratchIno);
    ASSERT_EQ(fs_.write(*tmp, "abc", 0, false), 3);
    ASSERT_EQ(fs_.unlink("tmp"), 0);
    ASSERT_EQ(fs_.getattr(tmp_ino, nullptr, attr), 0);
    EXPECT_EQ(attr.size, 3);
    EXPECT_EQ(read_all(fs_, *tmp), "abc");
    fs_.release(*tmp);
    EXPECT_EQ(fs_.getattr(tmp_ino, nullptr, attr), -ESTALE);

    std::unique_ptr<OpenFile> lock;
    ASSERT_EQ(create("rig-a.lock", O_RDWR | O_CREAT | O_EXCL, lock), 0);
    clock_.advance(6);
    EXPECT_EQ(fs_.lookup("rig-a.lock", attr), 0);  // held open: not stale
    fs_.release(*lock);
    clock_.advance(6);
    EXPECT_EQ(fs_.lookup("rig-a.lock", attr), -ENOENT);
}

// Another file under the mount is read through its own descriptor, which
// release closes (and destruction, when the kernel never released it).
TEST_F(FilesystemBacking, APassthroughHandleReadsTheFileAndReleaseClosesIt) {
    ASSERT_EQ(backing_.write_atomic("notes.txt", "kept\n"), 0);
    NodeAttr attr;
    ASSERT_EQ(fs_.lookup("notes.txt", attr), 0);
    const Ino notes = attr.ino;
    std::unique_ptr<OpenFile> w;
    EXPECT_EQ(fs_.open(notes, O_WRONLY, w), -EROFS);
    EXPECT_EQ(fs_.truncate(notes, nullptr, 0), -EROFS);
    EXPECT_EQ(fs_.set_mtime(notes, WallTime{}), -EROFS);
    EXPECT_EQ(fs_.unlink("notes.txt"), -EROFS);

    std::unique_ptr<OpenFile> file;
    ASSERT_EQ(fs_.open(notes, O_RDONLY, file), 0);
    const auto* pass = std::get_if<PassthroughFile>(file.get());
    ASSERT_NE(pass, nullptr);
    const int fd = pass->fd();
    ASSERT_TRUE(is_open(fd));
    EXPECT_EQ(read_all(fs_, *file), "kept\n");
    EXPECT_EQ(fs_.write(*file, "x", 0, false), -EBADF);
    EXPECT_EQ(fs_.truncate(notes, file.get(), 0), -EACCES);
    ASSERT_EQ(fs_.getattr(notes, file.get(), attr), 0);  // fstat goes by name, as stat
    EXPECT_EQ(attr.size, 5);
    EXPECT_EQ(attr.mode & 0222, 0u);
    fs_.release(*file);
    EXPECT_EQ(pass->fd(), -1);
    EXPECT_FALSE(is_open(fd));
    file.reset();

    ASSERT_EQ(fs_.open(notes, O_RDONLY, file), 0);
    const int unreleased = std::get<PassthroughFile>(*file).fd();
    ASSERT_TRUE(is_open(unreleased));
    file.reset();
    EXPECT_FALSE(is_open(unreleased));
}

}  // namespace
}  // namespace credfs::test
