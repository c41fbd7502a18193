#include <gtest/gtest.h>

#include <fcntl.h>

#include <cerrno>

#include "credfs/filesystem.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

using test::FakeClock;
using test::FakeSource;

class FilesystemTest : public ::testing::Test {
  protected:
    static Config make_config() {
        Config c;
        RigConfig a;
        a.id = a.file = "rig-a";
        RigConfig b;
        b.id = "rig-b";
        b.file = "b.cred";
        c.rigs = {a, b};
        c.refresh.min_ttl_s = 10;
        c.refresh.read_timeout_s = 20;
        return c;
    }
    Config config_ = make_config();
    FakeClock clock_;
    FakeSource source_{clock_, 60};
    RigRegistry registry_{config_, source_, clock_, [] { return 0.0; }, {}};
    Filesystem fs_{registry_, 1234, 5678, clock_.now()};
};

TEST_F(FilesystemTest, RootListsRigFilesInConfigOrder) {
    NodeAttr attr;
    ASSERT_EQ(fs_.getattr("/", nullptr, attr), 0);
    EXPECT_TRUE(attr.is_dir);
    EXPECT_EQ(fs_.list(), (std::vector<std::string>{"rig-a", "b.cred"}));
}

TEST_F(FilesystemTest, RigFilesAre0600OwnedByTheMounterAndSizedToTheContent) {
    NodeAttr attr;
    ASSERT_EQ(fs_.getattr("/b.cred", nullptr, attr), 0);
    EXPECT_FALSE(attr.is_dir);
    EXPECT_EQ(attr.mode, 0600u);
    EXPECT_EQ(attr.uid, 1234u);
    EXPECT_EQ(attr.gid, 5678u);
    EXPECT_EQ(attr.size, 0);  // no token yet, and getattr never fetches one
    EXPECT_EQ(source_.calls(), 0);
    std::unique_ptr<OpenFile> file;
    ASSERT_EQ(fs_.open("/b.cred", O_RDONLY, file), 0);
    ASSERT_EQ(fs_.getattr("/b.cred", nullptr, attr), 0);
    EXPECT_EQ(attr.size, static_cast<off_t>(file->credential->content.size()));
}

TEST_F(FilesystemTest, UnknownNamesAndNestedPathsAreEnoent) {
    NodeAttr attr;
    std::unique_ptr<OpenFile> file;
    EXPECT_EQ(fs_.getattr("/nope", nullptr, attr), -ENOENT);
    EXPECT_EQ(fs_.getattr("/rig-a/x", nullptr, attr), -ENOENT);
    EXPECT_EQ(fs_.getattr("/rig-b", nullptr, attr), -ENOENT);  // id is not the file name
    EXPECT_EQ(fs_.open("/nope", O_RDONLY, file), -ENOENT);
}

TEST_F(FilesystemTest, WritesAndTruncationAreRefused) {
    std::unique_ptr<OpenFile> file;
    EXPECT_EQ(fs_.open("/rig-a", O_WRONLY, file), -EACCES);
    EXPECT_EQ(fs_.open("/rig-a", O_RDWR, file), -EACCES);
    EXPECT_EQ(fs_.open("/rig-a", O_RDONLY | O_TRUNC, file), -EACCES);
    EXPECT_EQ(fs_.open("/", O_RDONLY, file), -EISDIR);
    EXPECT_EQ(source_.calls(), 0);
}

TEST_F(FilesystemTest, ReadsServeTheSnapshotTakenAtOpen) {
    std::unique_ptr<OpenFile> file;
    ASSERT_EQ(fs_.open("/rig-a", O_RDONLY, file), 0);
    const std::string expected = "https://x-access-token:ghs_tok1@github.com\n";
    char buf[128];
    ASSERT_EQ(Filesystem::read(*file, buf, 10, 0), 10u);
    // A refresh between two reads must not mix tokens.
    clock_.advance(55);
    std::unique_ptr<OpenFile> later;
    ASSERT_EQ(fs_.open("/rig-a", O_RDONLY, later), 0);
    EXPECT_EQ(later->credential->token, "ghs_tok2");
    const size_t n = Filesystem::read(*file, buf + 10, sizeof buf - 10, 10);
    EXPECT_EQ(std::string(buf, 10 + n), expected);
    EXPECT_EQ(Filesystem::read(*file, buf, 10, static_cast<off_t>(expected.size())), 0u);
    EXPECT_EQ(Filesystem::read(*file, buf, 10, 1 << 30), 0u);
    // fstat on the old handle reports the old snapshot's size.
    NodeAttr attr;
    ASSERT_EQ(fs_.getattr("/rig-a", file.get(), attr), 0);
    EXPECT_EQ(attr.size, static_cast<off_t>(expected.size()));
}

}  // namespace
}  // namespace credfs
