// The kernel's attribute cache over rig files (issue #14, docs/design.md
// "Kernel caching"): attributes are cached and invalidated on every change,
// and no read ever gets older bytes or a torn line while a token rotates and
// git rewrites the file every few milliseconds with longer, shorter and
// same-length content.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

constexpr char kManagedPrefix[] = "https://x-access-token:";
constexpr char kManagedSuffix[] = "@github.com";

/// Read syscalls of `pid` (/proc/PID/io): the daemon reads /dev/fuse once per
/// FUSE request and nothing else while its tokens need no refresh.
long read_syscalls(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/io");
    std::string key;
    long value = -1;
    while (in >> key >> value) {
        if (key == "syscr:") return value;
    }
    return -1;
}

class KernelCacheTest : public MountTest {
  protected:
    /// What the writer thread put after the managed line, by rewrite number.
    std::mutex kept_mu_;
    std::map<long, std::string> kept_by_seq_{{0, ""}};  // 0: before the first rewrite
    std::atomic<long> done_seq_{0};                     // the last rewrite whose rename returned

    std::string kept_lines(long seq, std::mt19937& rng) {
        std::string out;
        const int lines = 1 + static_cast<int>(rng() % 3);
        for (int i = 0; i < lines; ++i) {
            // Pads of 0..40 characters: the file grows, shrinks or keeps its length.
            out += "https://u:s" + std::to_string(seq) + "-" + std::string(rng() % 41, 'p') +
                   "@other.example\n";
        }
        return out;
    }

    /// git's store dance: O_EXCL lock, managed line plus new kept lines, rename.
    bool rewrite(long seq, std::mt19937& rng) {
        const std::string kept = kept_lines(seq, rng);
        {
            std::lock_guard<std::mutex> lock(kept_mu_);
            kept_by_seq_[seq] = kept;
        }
        const std::string lock = harness_.file("rig-a.lock");
        const int fd = ::open(lock.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
        if (fd < 0) return false;
        const std::string content =
            std::string(kManagedPrefix) + "ghs_written" + kManagedSuffix + "\n" + kept;
        const bool wrote =
            ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
        ::close(fd);
        if (!wrote || ::rename(lock.c_str(), harness_.file("rig-a").c_str()) != 0) {
            ::unlink(lock.c_str());
            return false;
        }
        done_seq_ = seq;
        return true;
    }
};

struct Floors {
    long seq;    // kept lines of a rewrite that completed before the open
    long token;  // index (fake's issue order) of a token a completed read got
};

TEST_F(KernelCacheTest, ReadersNeverSeeOlderBytesOrATornLineWhileTheFileChangesEveryFewMs) {
    fake_.set_ttl(1.2);  // a background refresh every ~0.6 s
    RefreshParams refresh;
    refresh.margin_s = 0.6;
    refresh.min_ttl_s = 0.3;
    refresh.publish_delay_s =
        0;  // each new token is served at once: served tokens only move forward
    ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, {{"rig-a", ""}}));
    ASSERT_TRUE(wait_for_token("rig-a"));

    std::atomic<bool> stop{false};
    std::atomic<long> token_floor{0}, reads{0}, rewrites{0}, cached_checks{0};
    std::mutex bad_mu;
    std::vector<std::string> bad;
    auto fail = [&](std::string why) {
        std::lock_guard<std::mutex> lock(bad_mu);
        if (bad.size() < 10) bad.push_back(std::move(why));
    };
    auto token_index = [&](const std::string& token) -> long {
        const auto issued = fake_.issued("rig-a");
        for (size_t i = 0; i < issued.size(); ++i) {
            if (issued[i].token == token) return static_cast<long>(i) + 1;
        }
        return 0;
    };

    std::thread writer([&] {
        std::mt19937 rng(7);
        for (long seq = 1; !stop; ++seq) {
            if (rewrite(seq, rng)) ++rewrites;
            std::this_thread::sleep_for(2ms);  // pacing: a busy container's git
        }
    });
    std::thread lengths([&] {
        // New tokens longer, shorter or as long as the one they replace.
        const size_t cycle[] = {36, 36, 80, 20, 20, 120};
        for (size_t i = 0; !stop; ++i) {
            fake_.set_token_length(cycle[i % std::size(cycle)]);
            std::this_thread::sleep_for(150ms);
        }
    });
    auto reader = [&] {
        while (!stop) {
            const Floors floor{done_seq_.load(), token_floor.load()};
            const auto started = fakes::WallClock::now();
            const ReadResult r = read_whole_file(harness_.file("rig-a"));
            ++reads;
            if (r.error != 0) {
                fail("read failed: errno " + std::to_string(r.error));
                continue;
            }
            // One managed line, then exactly the kept lines of one rewrite.
            const size_t end = r.data.find('\n');
            const std::string first = r.data.substr(0, end);
            if (end == std::string::npos || first.rfind(kManagedPrefix, 0) != 0 ||
                first.size() < sizeof kManagedPrefix + sizeof kManagedSuffix ||
                first.compare(first.size() - (sizeof kManagedSuffix - 1), std::string::npos,
                              kManagedSuffix) != 0) {
                fail("not a credential line first: " + std::to_string(r.data.size()) + " bytes");
                continue;
            }
            const std::string token =
                first.substr(sizeof kManagedPrefix - 1, first.size() - (sizeof kManagedPrefix - 1) -
                                                            (sizeof kManagedSuffix - 1));
            const std::string kept = r.data.substr(end + 1);
            const long seq = kept.rfind("https://u:s", 0) == 0 ? std::atol(kept.c_str() + 11) : 0;
            {
                std::lock_guard<std::mutex> lock(kept_mu_);
                const auto it = kept_by_seq_.find(seq);
                if (it == kept_by_seq_.end() || it->second != kept) {
                    fail("kept lines that no single rewrite wrote (torn or mixed), " +
                         std::to_string(kept.size()) + " bytes");
                    continue;
                }
            }
            if (seq < floor.seq) {
                fail("rewrite " + std::to_string(seq) + " read after rewrite " +
                     std::to_string(floor.seq) + " had completed");
            }
            const long index = token_index(token);
            if (index == 0) {
                fail("a token the upstream never issued");
                continue;
            }
            if (index < floor.token) {
                fail("token #" + std::to_string(index) + " read after a read had got token #" +
                     std::to_string(floor.token));
            }
            if (fake_.issued("rig-a")[static_cast<size_t>(index - 1)].expires_at < started) {
                fail("token #" + std::to_string(index) + " had expired before the open");
            }
            long seen = token_floor.load();
            while (index > seen && !token_floor.compare_exchange_weak(seen, index)) {
            }
            ++cached_checks;
        }
    };
    std::vector<std::thread> readers;
    for (int i = 0; i < 4; ++i) readers.emplace_back(reader);
    // Run until enough happened, not for a fixed time: 6 tokens and 500
    // rewrites (about 4 s here), bounded by a generous deadline.
    const size_t issued_before = fake_.issued("rig-a").size();
    const bool enough = wait_until(
        [&] {
            return fake_.issued("rig-a").size() >= issued_before + 6 && rewrites.load() >= 500 &&
                   reads.load() >= 2000;
        },
        120s);
    stop = true;
    writer.join();
    lengths.join();
    for (auto& t : readers) t.join();

    std::cerr << "tokens " << fake_.issued("rig-a").size() - issued_before << ", rewrites "
              << rewrites.load() << ", reads " << reads.load() << "\n";
    EXPECT_TRUE(enough) << "tokens " << fake_.issued("rig-a").size() - issued_before
                        << ", rewrites " << rewrites.load() << ", reads " << reads.load();
    EXPECT_TRUE(bad.empty()) << bad.size() << " bad read(s), first: " << bad.front();
    EXPECT_GT(cached_checks.load(), 0);
}

// While nothing changes, an open+read+close costs the daemon four FUSE
// requests (OPEN, READ, the READ that finds the end, RELEASE): the permission
// check's and fstat's GETATTRs are answered from the attribute cache, where
// uncached attributes cost six.
TEST_F(KernelCacheTest, AHotReadCostsAtMostFourFuseRequests) {
    fake_.set_ttl(3600);
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    ASSERT_TRUE(wait_for_token("rig-a"));
    const std::string file = harness_.file("rig-a");
    const ReadResult first = read_whole_file(file);
    ASSERT_EQ(first.error, 0);
    constexpr int kReads = 200;
    const long before = read_syscalls(harness_.pid());
    ASSERT_GE(before, 0);
    for (int i = 0; i < kReads; ++i) {
        const ReadResult r = read_whole_file(file);
        ASSERT_EQ(r.error, 0);
        ASSERT_EQ(r.data, first.data);
    }
    const long requests = read_syscalls(harness_.pid()) - before;
    // A little slack: an attribute timeout that runs out on a slow
    // (sanitizer) build adds a GETATTR; six per read would be 1,200.
    EXPECT_LE(requests, 4 * kReads + 20) << requests << " FUSE requests for " << kReads << " reads";
}

}  // namespace
}  // namespace credfs::itest
