// Attacks on the kernel caching of rig files (issue #14, docs/design.md
// "Kernel caching"): ways a process can get the kernel to fill a rig file's
// page cache through a direct_io handle. On Linux 6.x posix_fadvise(WILLNEED),
// readahead(2) and a MAP_PRIVATE mmap of a FOPEN_DIRECT_IO handle read pages
// in through that handle (fuse_readahead, fuse_read_folio; fuse_file_mmap
// maps private mappings of direct_io files through the page cache). These
// failed (41ea651) while an open could be admitted to the page cache
// (keep_cache): a cached handle read another open's newer or older token, cut
// to its own size. Every open is direct_io since; the tests keep it so.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <string>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

/// pread from offset 0 until EOF: what a handle reads now.
std::string pread_all(int fd) {
    std::string out;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(out.size()));
        if (n <= 0) return out;
        out.append(buf, static_cast<size_t>(n));
    }
}

class KernelCacheAttackTest : public MountTest {
  protected:
    /// A daemon serving rig-a, whose tokens it renews every ~2 s and serves at once.
    void start() {
        fake_.set_token_length(20);
        fake_.set_ttl(4);  // a background refresh every ~2 s
        RefreshParams refresh;
        refresh.margin_s = 2;
        refresh.min_ttl_s = 0.5;
        refresh.publish_delay_s = 0;
        ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, {{"rig-a", ""}}));
        ASSERT_TRUE(wait_for_token("rig-a"));
    }

    /// Waits until an open+read of rig-a gives something other than `old`
    /// (a new token: tokens from now on have `token_length` characters).
    std::string next_line(const std::string& old, size_t token_length) {
        fake_.set_token_length(token_length);
        std::string line;
        EXPECT_TRUE(wait_until(
            [&] {
                const ReadResult r = read_whole_file(harness_.file("rig-a"));
                if (r.error == 0 && r.data != old) line = r.data;
                return !line.empty();
            },
            30s));
        EXPECT_TRUE(token_from_line(line)) << line;
        return line;
    }

    /// Opens rig-a and reads it whole through a handle the kernel caches (the
    /// first open, nothing else open), then makes the daemon serve a new,
    /// longer token, and opens a second handle (direct_io: the first is
    /// still open) that serves the new one. `poke` then does something with
    /// the second handle; afterwards the first handle must still read exactly
    /// what it read before, and the second exactly the new line.
    void attack(const std::function<std::string(int fd, const std::string& expected)>& poke) {
        ASSERT_NO_FATAL_FAILURE(start());
        const std::string file = harness_.file("rig-a");

        const int first = ::open(file.c_str(), O_RDONLY);
        ASSERT_GE(first, 0) << std::strerror(errno);
        const std::string old_line = pread_all(first);
        ASSERT_TRUE(token_from_line(old_line)) << old_line;

        const std::string new_line = next_line(old_line, 80);  // 60 bytes longer
        ASSERT_GT(new_line.size(), old_line.size());

        const int second = ::open(file.c_str(), O_RDONLY);
        ASSERT_GE(second, 0) << std::strerror(errno);
        const std::string seen_by_second = poke(second, new_line);
        const std::string seen_by_first = pread_all(first);
        ::close(second);
        ::close(first);

        EXPECT_EQ(seen_by_first, old_line)
            << "the cached handle read " << seen_by_first.size() << " bytes, not its own "
            << old_line.size() << "-byte line";
        if (!seen_by_second.empty()) {
            EXPECT_EQ(seen_by_second, new_line)
                << "the second handle read " << seen_by_second.size() << " bytes, not its "
                << new_line.size() << "-byte line";
        }
    }
};

// posix_fadvise(WILLNEED) (or readahead(2)) on a direct_io handle makes the
// kernel read pages through that handle: its newer, longer line lands in the
// page cache the first (cached) handle reads.
TEST_F(KernelCacheAttackTest, FadviseOnADirectHandleDoesNotChangeWhatACachedHandleReads) {
    attack([](int fd, const std::string&) {
        EXPECT_EQ(::posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED), 0);
        return pread_all(fd);
    });
}

// A private mapping of a direct_io handle is served from the page cache,
// filled through that handle.
TEST_F(KernelCacheAttackTest, PrivateMmapOfADirectHandleReadsItsOwnWholeLine) {
    attack([](int fd, const std::string& expected) {
        struct stat st {};
        EXPECT_EQ(::fstat(fd, &st), 0);
        const size_t len = expected.size() + 4096;  // map past any size fstat reports
        void* map = ::mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            ADD_FAILURE() << "mmap: " << std::strerror(errno);
            return std::string();
        }
        // What the mapping holds up to the size fstat reports: a reader of a
        // mapped file reads st_size bytes.
        std::string seen(static_cast<const char*>(map), static_cast<size_t>(st.st_size));
        ::munmap(map, len);
        return seen;
    });
}

// A direct_io handle opened while a cached one was open outlives it; a later
// open of a newer token is then admitted to the page cache (no cached handle
// is open), and the old handle's private mapping fills that cache with its
// older token: the newer open reads a token older than the one it was given.
TEST_F(KernelCacheAttackTest, AnOlderDirectHandlesMmapNeverShowsALaterOpenOlderBytes) {
    ASSERT_NO_FATAL_FAILURE(start());
    const std::string file = harness_.file("rig-a");
    const int first = ::open(file.c_str(), O_RDONLY);  // cached
    ASSERT_GE(first, 0) << std::strerror(errno);
    const std::string a = pread_all(first);
    const std::string b = next_line(a, 20);
    const int old_direct = ::open(file.c_str(), O_RDONLY);  // direct_io, serves b
    ASSERT_GE(old_direct, 0) << std::strerror(errno);
    ::close(first);
    const std::string c = next_line(b, 20);
    const int newer = ::open(file.c_str(), O_RDONLY);  // cached again, serves c
    ASSERT_GE(newer, 0) << std::strerror(errno);

    void* map = ::mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, old_direct, 0);
    ASSERT_NE(map, MAP_FAILED) << std::strerror(errno);
    const std::string mapped(static_cast<const char*>(map), b.size());
    const std::string seen = pread_all(newer);
    ::munmap(map, 4096);
    ::close(newer);
    ::close(old_direct);

    EXPECT_EQ(mapped, b);
    EXPECT_EQ(seen, c) << (seen == b ? "the open of the newer token read the older one"
                                     : "the open read bytes no open was given");
}

}  // namespace
}  // namespace credfs::itest
