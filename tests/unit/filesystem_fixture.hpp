// Fixtures for the tests that drive Filesystem without a mount
// (filesystem_test.cpp, open_file_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>

#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "credfs/fs/filesystem.hpp"
#include "test_support.hpp"

namespace credfs::test {

class FilesystemTest : public ::testing::Test {
  protected:
    Config config_ = test::two_rig_config();
    FakeClock clock_;
    FakeSource source_{clock_, 60};
    RigRegistry registry_{config_, source_, clock_, [] { return 0.0; }, {}};
    Filesystem fs_{registry_, clock_, 1234, 5678};

    // The kernel's side of a call by name: LOOKUP, then the call on the inode
    // it answered.
    Ino ino(std::string_view name) {
        NodeAttr attr;
        EXPECT_EQ(fs_.lookup(name, attr), 0) << name;
        return attr.ino;
    }
    int open(std::string_view name, int flags, std::unique_ptr<OpenFile>& out) {
        NodeAttr attr;
        if (const int rc = fs_.lookup(name, attr); rc != 0) return rc;
        return fs_.open(attr.ino, flags, out);
    }
    int create(std::string_view name, int flags, std::unique_ptr<OpenFile>& out) {
        NodeAttr attr;
        return fs_.create(name, flags, out, attr);
    }
};

inline const Credential& credential_of(const OpenFile& file) {
    return *std::get<RigFile>(file).credential;
}

/// Every byte of `file` from offset 0, read as the kernel would.
inline std::string read_all(const Filesystem& fs, const OpenFile& file) {
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = fs.read(file, buf, sizeof buf, static_cast<off_t>(out.size()))) > 0;) {
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

/// A registry source for reload() that the fixture owns.
inline std::shared_ptr<TokenSource> borrowed(TokenSource& source) {
    return {&source, [](TokenSource*) {}};
}

/// A one-rig mount over a real backing directory.
class FilesystemBacking : public ::testing::Test {
  protected:
    static Config one_rig() {
        Config config;
        RigConfig a;
        a.id = a.file = "rig-a";
        config.rigs = {a};
        return config;
    }
    /// Whether `fd` is an open descriptor of this process.
    static bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

    test::TempDir dir_;
    BackingDir backing_{dir_.path()};
    Config config_ = one_rig();
    FakeClock clock_;
    FakeSource source_{clock_, 60};
    RigRegistry registry_{config_, source_, clock_, [] { return 0.0; }, {}};
    Filesystem fs_{registry_, clock_, 1, 1, {}, &backing_};
};

}  // namespace credfs::test
