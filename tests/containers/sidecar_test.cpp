// The sidecar deployment of docs/deployment.md with real containers: a
// producer container runs gastown-creds-supervise from the package image on
// a host directory shared `rshared`; a consumer container mounts the same
// directory `rslave` and runs real git through the rig file, never
// restarted, while the daemon is killed -9, the producer is restarted and
// finally replaced by one without /dev/fuse (files mode). A third consumer,
// mounted with the default private propagation, shows the failure the docs
// warn about.
//
// The fake upstream and the git server (which accepts only tokens the fake
// issued and that have not expired) run in this process on 127.0.0.1; the
// containers reach them with --network host. Tokens never leave the
// containers' files and pipes: the consumer logs a fingerprint (the first 16
// hex digits of the token's SHA-256) of each token it read, and this test
// matches the fingerprints against what the fake issued.
//
// Environment: CREDFS_IMAGE (default localhost/gastown-credfs:<version>),
// CREDFS_CONTAINER_TEST_ROOT (a fresh directory to work in; default: a new
// one under /tmp), CREDFS_CONTAINER_TEST_LABEL (the value of the label
// io.gastown.credfs.test on every container; default: unique per run).
// scripts/test-containers.sh DEB sets all three.
#include <openssl/sha.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bare_repo.hpp"
#include "fake_gastown.hpp"
#include "git_http_server.hpp"
#include "run_program.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using credfs::fakes::FakeGastown;
using credfs::fakes::GitHttpServer;
using SteadyClock = std::chrono::steady_clock;

constexpr char kJwt[] = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjb250YWluZXJzIn0.Y29udGFpbmVycy1zaWc";
constexpr char kRig[] = "rig-ctr";
constexpr char kUser[] = "x-access-token";
/// Where every container mounts the shared host directory (the volume).
constexpr char kVolume[] = "/creds";
/// The daemon's mountpoint: a subdirectory of the volume (the volume itself
/// would do for the mount), so that the helper's socket, /creds/dir.sock,
/// sits in the volume too.
constexpr char kMnt[] = "/creds/dir";
/// Token lifetime at the fake: short, so renewals happen during the test.
constexpr double kTtlS = 10;

double wall_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}
double to_epoch(credfs::fakes::WallClock::time_point t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
}

std::string fingerprint(const std::string& token) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), md);
    char hex[17];
    for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return std::string(hex, 16);
}

void write_file(const std::string& path, const std::string& content, mode_t mode) {
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << content;
        if (!out.flush()) throw std::runtime_error("cannot write " + path);
    }
    ::chmod(path.c_str(), mode);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

struct Cmd {
    int code = -1;
    std::string out;
    std::string err;
    std::string describe() const { return "exit " + std::to_string(code) + ": " + err + out; }
};

Cmd run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 120s) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    const auto r = credfs::fakes::run_program(argv, env, "", timeout);
    return Cmd{r.exit_code, r.out, r.err};
}

Cmd podman(std::vector<std::string> args, std::chrono::milliseconds timeout = 120s) {
    args.insert(args.begin(), CREDFS_PODMAN);
    return run(args, timeout);
}

/// The mount ID of the topmost FUSE mount at `dir` in this process's
/// namespace, or 0.
int fuse_mount_id(const std::string& dir) {
    std::ifstream in("/proc/self/mountinfo");
    int found = 0;
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        int id = 0;
        std::string parent, devno, root, mnt;
        f >> id >> parent >> devno >> root >> mnt;
        const auto dash = line.find(" - ");
        if (mnt != dir || dash == std::string::npos) continue;
        if (line.compare(dash + 3, 4, "fuse") == 0) found = id;
    }
    return found;
}

bool is_mounted(const std::string& dir) {
    std::ifstream in("/proc/self/mountinfo");
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        std::string id, parent, devno, root, mnt;
        f >> id >> parent >> devno >> root >> mnt;
        if (mnt == dir) return true;
    }
    return false;
}

bool wait_until(const std::function<bool()>& cond, std::chrono::seconds limit) {
    const auto deadline = SteadyClock::now() + limit;
    while (!cond()) {
        if (SteadyClock::now() >= deadline) return false;
        std::this_thread::sleep_for(50ms);
    }
    return true;
}

/// One `git credential fill` by the consumer.
struct Read {
    double t = 0;
    bool ok = false;
    std::string what;  ///< ok: the token's fingerprint; else git's first stderr line.
};

std::vector<Read> parse_reads(const std::string& log) {
    std::vector<Read> reads;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        Read r;
        std::string status;
        if (!(f >> r.t >> status)) continue;
        r.ok = status == "ok";
        std::getline(f >> std::ws, r.what);
        reads.push_back(r);
    }
    return reads;
}

// The consumer's read loop: every 0.1 s one `git credential fill`, as git
// does before each fetch or push, through the store helper on the rig file.
constexpr char kConsumerScript[] = R"SH(#!/bin/bash
set -u
host=$1 rig=$2 out=/work/reads.log
git config --global user.name consumer
git config --global user.email consumer@example.invalid
git config --global credential.helper "store --file=/creds/dir/$rig"
git config --global credential.useHttpPath false
git config --global http.sslCAInfo /scripts/ca.pem
git config --global gc.auto 0
export GIT_TERMINAL_PROMPT=0 LC_ALL=C
: >"$out"
while :; do
  t=$(date +%s.%N)
  if cred=$(printf 'protocol=https\nhost=%s\n\n' "$host" | git credential fill 2>/work/fill.err); then
    pw=$(printf '%s\n' "$cred" | sed -n 's/^password=//p')
    if [ -n "$pw" ]; then
      echo "$t ok $(printf '%s' "$pw" | sha256sum | cut -c1-16)" >>"$out"
    else
      echo "$t fail no password in git's answer" >>"$out"
    fi
  else
    echo "$t fail $(grep -v '^$' /work/fill.err | head -n 1)" >>"$out"
  fi
  sleep 0.1
done
)SH";

// One commit pushed by the consumer (cloning first): prints nothing but errors.
constexpr char kPushScript[] = R"SH(#!/bin/bash
set -eu
export GIT_TERMINAL_PROMPT=0 LC_ALL=C
url=$1 n=$2
cd /root
[ -d project ] || git clone --quiet "$url" project
cd project
git pull --quiet --ff-only origin main
git commit --quiet --allow-empty -m "push $n"
git push --quiet origin HEAD:refs/heads/main
)SH";

// What a consumer without rslave sees in the rig file: a fingerprint, or
// the error of the read.
constexpr char kProbeScript[] = R"SH(#!/bin/bash
set -u -o pipefail
export LC_ALL=C
if line=$(head -n 1 "/creds/dir/$1" 2>/tmp/probe.err); then
  pw=${line#https://*:}
  pw=${pw%@*}
  echo "ok $(printf '%s' "$pw" | sha256sum | cut -c1-16)"
else
  echo "fail $(head -n 1 /tmp/probe.err)"
fi
)SH";

class SidecarTest : public ::testing::Test {
  protected:
    SidecarTest() : fake_(kJwt) {}

    void SetUp() override {
        const char* image = std::getenv("CREDFS_IMAGE");
        image_ = image != nullptr && *image != '\0'
                     ? image
                     : std::string("localhost/gastown-credfs:") + CREDFS_IMAGE_VERSION;
        const auto version = podman({"version", "--format", "{{.Client.Version}}"});
        ASSERT_EQ(version.code, 0)
            << "podman does not work (scripts/install-deps.sh installs it): " << version.describe();
        const auto exists = podman({"image", "exists", image_});
        ASSERT_EQ(exists.code, 0) << "image " << image_
                                  << " is missing: build it with scripts/build-image.sh DEB";

        const char* given = std::getenv("CREDFS_CONTAINER_TEST_ROOT");
        if (given != nullptr && *given != '\0') {
            root_ = given;
        } else {
            std::string tmpl = "/tmp/credfs-containers.XXXXXX";
            ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
            root_ = tmpl;
            own_root_ = true;
        }
        suffix_ = std::to_string(::getpid()) + "-" + std::to_string(std::time(nullptr));
        // scripts/test-containers.sh removes the containers with this label
        // even when this program is killed.
        const char* label = std::getenv("CREDFS_CONTAINER_TEST_LABEL");
        label_ = std::string("io.gastown.credfs.test=") +
                 (label != nullptr && *label != '\0' ? label : suffix_);
        creds_ = root_ + "/creds";
        served_ = creds_ + "/dir";
        scripts_ = root_ + "/scripts";
        for (const auto& d : {creds_, scripts_, root_ + "/repos"}) {
            std::filesystem::create_directories(d);
        }
        ::chmod(creds_.c_str(), 0700);

        // podman's `:rshared` needs a shared source: the directory becomes a
        // mount of its own (bound onto itself) in a peer group of its own.
        ASSERT_EQ(::mount(creds_.c_str(), creds_.c_str(), nullptr, MS_BIND, nullptr), 0)
            << "bind mount of " << creds_ << ": " << std::strerror(errno);
        bound_ = true;
        ASSERT_EQ(::mount(nullptr, creds_.c_str(), nullptr, MS_SHARED | MS_REC, nullptr), 0)
            << "make-rshared " << creds_ << ": " << std::strerror(errno);

        fake_.set_ttl(kTtlS);
        credfs::fakes::create_bare_repo(root_ + "/repos/project.git");
        GitHttpServer::Options options;
        options.project_root = root_ + "/repos";
        options.expected_user = kUser;
        options.ca_file = scripts_ + "/ca.pem";
        options.check = [this](const std::string& user, const std::string& token) {
            return user == kUser && fake_.is_valid(token);
        };
        git_server_ = std::make_unique<GitHttpServer>(std::move(options));

        write_file(root_ + "/jwt", kJwt, 0600);
        write_file(root_ + "/config.json", config_json(), 0600);
        write_file(scripts_ + "/consumer.sh", kConsumerScript, 0755);
        write_file(scripts_ + "/push.sh", kPushScript, 0755);
        write_file(scripts_ + "/probe.sh", kProbeScript, 0755);
        ::chmod(scripts_.c_str(), 0755);
    }

    void TearDown() override {
        if (HasFailure()) {
            for (const auto& name : containers_) {
                const auto logs = podman({"logs", name});
                std::cerr << "---- podman logs " << name << " ----\n" << logs.out << logs.err;
            }
        }
        for (const auto& name : containers_) podman({"rm", "--force", "--time", "0", name});
        // The producer's mounts propagated here; a dead one stays until
        // unmounted. Lazily unmount everything down to the bind mount, then it.
        for (const auto& dir : {served_, creds_}) {
            for (int i = 0; bound_ && i < 10 && is_mounted(dir); ++i) {
                ::umount2(dir.c_str(), MNT_DETACH);
            }
        }
        if (bound_ && is_mounted(creds_)) {
            ADD_FAILURE() << creds_ << " is still mounted; left in place";
            return;
        }
        if (git_server_) git_server_->stop();
        std::error_code ec;
        if (own_root_) {
            std::filesystem::remove_all(root_, ec);
        } else if (!root_.empty()) {
            for (const auto& entry : std::filesystem::directory_iterator(root_, ec)) {
                std::filesystem::remove_all(entry.path(), ec);
            }
        }
    }

    std::string config_json() const {
        std::ostringstream c;
        // Renewed 5 s before expiry; a read finding less than 2 s left
        // refreshes first. No publish delay: the fake has no replication lag.
        c << "{\n"
          << "  \"source\": {\"type\": \"gastown\", \"api_url\": \"" << fake_.base_url()
          << "\", \"town_id\": \"t1\",\n"
          << "             \"container_token_file\": \"/etc/gastown-credfs/jwt\",\n"
          << "             \"connect_timeout_s\": 2, \"request_timeout_s\": 5},\n"
          << "  \"refresh\": {\"margin_s\": 5, \"min_ttl_s\": 2, \"jitter_s\": 0,"
          << " \"read_timeout_s\": 6,\n"
          << "              \"backoff_initial_s\": 0.2, \"backoff_max_s\": 1,"
          << " \"publish_delay_s\": 0},\n"
          << "  \"rigs\": [{\"id\": \"" << kRig << "\", \"host\": \"" << git_server_->host()
          << "\"}]\n"
          << "}\n";
        return c.str();
    }

    std::string name(const std::string& role) const {
        return "credfs-test-" + role + "-" + suffix_;
    }

    /// Starts a container and remembers it for TearDown.
    void start(const std::string& role, const std::vector<std::string>& flags,
               const std::vector<std::string>& command) {
        std::vector<std::string> args = {"run",     "--detach", "--name",    name(role),
                                         "--label", label_,     "--network", "host"};
        args.insert(args.end(), flags.begin(), flags.end());
        args.push_back(image_);
        args.insert(args.end(), command.begin(), command.end());
        containers_.push_back(name(role));
        const auto r = podman(args);
        ASSERT_EQ(r.code, 0) << "podman run " << role << ": " << r.describe();
    }

    /// The producer: the supervisor on kMnt, shared back to the host.
    /// `fuse` false: no /dev/fuse, no capability, default AppArmor.
    void start_producer(const std::string& role, bool fuse) {
        std::vector<std::string> flags = {
            "--volume", creds_ + ":" + kVolume + ":rshared",
            "--volume", root_ + "/config.json:/etc/gastown-credfs.json:ro",
            "--volume", root_ + "/jwt:/etc/gastown-credfs/jwt:ro"};
        if (fuse) {
            flags.insert(flags.end(), {"--device", "/dev/fuse", "--cap-add", "SYS_ADMIN",
                                       "--security-opt", "apparmor=unconfined"});
        }
        start(role, flags, {"gastown-creds-supervise", "--mountpoint", kMnt, "--max-backoff", "1"});
    }

    void start_consumer(const std::string& role, const std::string& propagation) {
        const std::string work = root_ + "/" + role;
        std::filesystem::create_directories(work);
        const std::string volume =
            creds_ + ":" + kVolume + (propagation.empty() ? "" : ":" + propagation);
        start(role,
              {"--volume", volume, "--volume", scripts_ + ":/scripts:ro", "--volume",
               work + ":/work"},
              {"sleep", "infinity"});
    }

    std::vector<Read> reads() const {
        return parse_reads(read_file(root_ + "/consumer/reads.log"));
    }

    std::size_t successes_after(double t) const {
        const auto all = reads();
        return static_cast<std::size_t>(
            std::count_if(all.begin(), all.end(), [t](const Read& r) { return r.ok && r.t > t; }));
    }

    /// Waits for `n` successful reads by the consumer after wall time `t`.
    void expect_reads_after(double t, std::size_t n, const std::string& when) {
        EXPECT_TRUE(wait_until([&] { return successes_after(t) >= n; }, 60s))
            << "the consumer got no token " << when << "; last reads:\n"
            << tail_of_reads();
    }

    std::string tail_of_reads() const {
        const auto all = reads();
        std::ostringstream s;
        for (std::size_t i = all.size() > 8 ? all.size() - 8 : 0; i < all.size(); ++i) {
            s << "  " << std::fixed << all[i].t << (all[i].ok ? " ok " : " fail ") << all[i].what
              << "\n";
        }
        return s.str();
    }

    /// One commit pushed from the consumer, then checked on the server.
    void push(int n) {
        const auto r = podman({"exec", name("consumer"), "/scripts/push.sh",
                               git_server_->repo_url("project"), std::to_string(n)});
        EXPECT_EQ(r.code, 0) << "push " << n << " from the consumer: " << r.describe();
        const auto head = run({"git", "--git-dir=" + root_ + "/repos/project.git", "log", "-1",
                               "--format=%s", "main"});
        EXPECT_EQ(head.out, "push " + std::to_string(n) + "\n") << "the server's main";
        std::cout << "push " << n << ": " << (r.code == 0 ? "ok" : "FAILED") << std::endl;
    }

    /// What the private-propagation consumer reads in the rig file now.
    std::string probe_private() {
        const auto r = podman({"exec", name("private"), "/scripts/probe.sh", kRig});
        std::string out = r.out;
        while (!out.empty() && out.back() == '\n') out.pop_back();
        return out;
    }

    /// "ok <fingerprint>" of a token that is valid now, for a probe.
    bool probe_is_valid(const std::string& probe) const {
        if (probe.rfind("ok ", 0) != 0) return false;
        const double now = wall_now();
        for (const auto& t : fake_.issued(kRig)) {
            if (fingerprint(t.token) == probe.substr(3) && to_epoch(t.expires_at) > now)
                return true;
        }
        return false;
    }

    /// How many times the producer's daemons said they serve the mount.
    /// (Mount IDs cannot tell a new mount from the old: the kernel reuses
    /// the lowest free ID.)
    int mounts_served(const std::string& role) const {
        const auto logs = podman({"logs", name(role)});
        const std::string all = logs.out + logs.err;
        const std::string needle = std::string("serving at ") + kMnt + "\n";
        int n = 0;
        for (auto at = all.find(needle); at != std::string::npos; at = all.find(needle, at + 1)) {
            ++n;
        }
        return n;
    }

    /// Waits until a daemon of the producer serves the mount more times than
    /// `before` and the mount shows on the host.
    void wait_for_new_mount(int before, const std::string& when) {
        EXPECT_TRUE(wait_until(
            [&] { return mounts_served("producer") > before && fuse_mount_id(served_) != 0; }, 60s))
            << "no new FUSE mount at " << served_ << " " << when;
    }

    FakeGastown fake_;
    std::unique_ptr<GitHttpServer> git_server_;
    std::string image_;
    std::string root_;
    bool own_root_ = false;
    bool bound_ = false;
    std::string suffix_;
    std::string label_;
    std::string creds_;   ///< The shared host directory (the containers' kVolume).
    std::string served_;  ///< creds_/dir, the containers' kMnt.
    std::string scripts_;
    std::vector<std::string> containers_;
};

struct Event {
    std::string what;
    double t;
};

/// Prints, per event, the longest gap between successful reads from the last
/// success before it to the next event, and the failed reads in that span.
void report_gaps(const std::vector<Read>& all, const std::vector<Event>& events, double end) {
    std::vector<double> ok;
    for (const auto& r : all) {
        if (r.ok) ok.push_back(r.t);
    }
    for (std::size_t i = 0; i < events.size(); ++i) {
        const double from = events[i].t;
        const double to = i + 1 < events.size() ? events[i + 1].t : end;
        double gap = 0;
        for (std::size_t k = 1; k < ok.size(); ++k) {
            if (ok[k] >= from && ok[k] <= to) gap = std::max(gap, ok[k] - ok[k - 1]);
        }
        std::map<std::string, int> failures;
        for (const auto& r : all) {
            if (!r.ok && r.t >= from && r.t <= to) ++failures[r.what];
        }
        std::printf("%-34s longest gap between successful reads %.3f s", events[i].what.c_str(),
                    gap);
        if (failures.empty()) std::printf(", no failed read\n");
        for (auto it = failures.begin(); it != failures.end(); ++it) {
            std::printf("%s %d failed read(s): %s", it == failures.begin() ? "\n   " : ";",
                        it->second, it->first.c_str());
        }
        if (!failures.empty()) std::printf("\n");
    }
    std::fflush(stdout);
}

TEST_F(SidecarTest, ConsumerKeepsGettingTokensThroughDaemonKillProducerRestartAndFilesMode) {
    const double t0 = wall_now();
    ASSERT_NO_FATAL_FAILURE(start_producer("producer", true));
    wait_for_new_mount(0, "after the producer started");
    ASSERT_FALSE(HasFailure());
    ASSERT_NO_FATAL_FAILURE(start_consumer("consumer", "rslave"));
    ASSERT_NO_FATAL_FAILURE(start_consumer("private", ""));
    // The read loop runs in the background of the consumer, never restarted.
    const auto loop = podman(
        {"exec", "--detach", name("consumer"), "/scripts/consumer.sh", git_server_->host(), kRig});
    ASSERT_EQ(loop.code, 0) << loop.describe();
    std::vector<Event> events = {{"steady (mount)", wall_now()}};
    // deploy/kubernetes/sidecar.yaml's startupProbe (same paths), in the producer.
    const auto probe = podman({"exec", name("producer"), "sh", "-c",
                               "grep -q ' /creds/dir fuse.credfs ' /proc/self/mounts && "
                               "ls /creds/dir >/dev/null"});
    EXPECT_EQ(probe.code, 0) << "sidecar.yaml's startupProbe fails on a serving mount: "
                             << probe.describe();
    expect_reads_after(0, 10, "from the producer's first mount");
    ASSERT_FALSE(HasFailure());
    push(1);
    const std::string private_before = probe_private();
    std::cout << "private consumer before the kill: "
              << (probe_is_valid(private_before) ? "valid token" : private_before) << std::endl;
    EXPECT_TRUE(probe_is_valid(private_before))
        << "the private consumer, started after the mount, should see it: " << private_before;

    // 1. kill -9 of the daemon: the supervisor unmounts and restarts it.
    events.push_back({"daemon kill -9 in the producer", wall_now()});
    const auto kill = podman({"exec", name("producer"), "pkill", "-9", "-x", "gastown-credfs"});
    ASSERT_EQ(kill.code, 0) << "pkill in the producer: " << kill.describe();
    wait_for_new_mount(1, "after the daemon was killed");
    const double remounted = wall_now();
    expect_reads_after(remounted, 5, "after the daemon's restart");
    push(2);
    const std::string private_after_kill = probe_private();
    std::cout << "private consumer after the kill: " << private_after_kill << std::endl;
    EXPECT_TRUE(private_after_kill.find("Transport endpoint is not connected") !=
                    std::string::npos ||
                (private_after_kill.rfind("ok ", 0) == 0 && !probe_is_valid(private_after_kill)))
        << "without rslave the consumer should keep the dead mount (ENOTCONN) or a stale view, "
           "saw: "
        << private_after_kill;

    // 2. podman restart of the producer: the daemon stops cleanly and a new
    // container mounts again.
    events.push_back({"producer container restart", wall_now()});
    const auto restart = podman({"restart", "--time", "20", name("producer")});
    ASSERT_EQ(restart.code, 0) << restart.describe();
    wait_for_new_mount(2, "after the producer restarted");
    expect_reads_after(wall_now(), 5, "after the producer's restart");
    push(3);
    const std::string private_after_restart = probe_private();
    std::cout << "private consumer after the producer restart: " << private_after_restart
              << std::endl;
    EXPECT_FALSE(probe_is_valid(private_after_restart))
        << "without rslave the consumer should not follow the new mount";

    // 3. The producer replaced by one without /dev/fuse: files mode.
    events.push_back({"producer replaced, files mode", wall_now()});
    const auto stop = podman({"stop", "--time", "20", name("producer")});
    ASSERT_EQ(stop.code, 0) << stop.describe();
    ASSERT_NO_FATAL_FAILURE(start_producer("files", false));
    const double files_started = wall_now();
    // Two tokens minted in files mode read by the consumer: renewals keep
    // coming with no mount at all.
    std::set<std::string> fresh;
    EXPECT_TRUE(wait_until(
        [&] {
            std::set<std::string> minted;
            for (const auto& t : fake_.issued(kRig)) {
                if (to_epoch(t.issued_at) > files_started) minted.insert(fingerprint(t.token));
            }
            fresh.clear();
            for (const auto& r : reads()) {
                if (r.ok && r.t > files_started && minted.count(r.what) > 0) fresh.insert(r.what);
            }
            return fresh.size() >= 2;
        },
        60s))
        << "files mode: the consumer saw " << fresh.size() << " tokens; last reads:\n"
        << tail_of_reads();
    EXPECT_EQ(fuse_mount_id(served_), 0) << "files mode should leave no FUSE mount";
    // deploy/kubernetes/files-mode.yaml's startupProbe (same paths).
    const auto files_probe =
        podman({"exec", name("files"), "sh", "-c",
                "gastown-credfs status /creds/dir | head -n 1 | grep -q 'files mode'"});
    EXPECT_EQ(files_probe.code, 0)
        << "files-mode.yaml's startupProbe fails in files mode: " << files_probe.describe();
    const auto files_log = podman({"logs", name("files")});
    EXPECT_NE((files_log.out + files_log.err).find("serving files mode"), std::string::npos)
        << "the daemon without /dev/fuse should say it serves files mode";
    push(4);
    const double end = wall_now();

    // Every token the consumer read was issued by the fake and unexpired
    // when read.
    std::map<std::string, credfs::fakes::IssuedToken> by_fp;
    for (const auto& t : fake_.issued(kRig)) by_fp[fingerprint(t.token)] = t;
    const auto all = reads();
    int ok = 0, failed = 0, invalid = 0;
    std::set<std::string> distinct;
    for (const auto& r : all) {
        if (!r.ok) {
            ++failed;
            continue;
        }
        ++ok;
        distinct.insert(r.what);
        const auto it = by_fp.find(r.what);
        if (it == by_fp.end() || to_epoch(it->second.expires_at) <= r.t) {
            ++invalid;
            ADD_FAILURE() << "read at " << std::fixed << r.t << " got token " << r.what
                          << (it == by_fp.end() ? ", which the fake never issued" : ", expired");
        }
    }
    std::printf(
        "consumer: %d successful reads (%zu distinct tokens, %d invalid), %d failed, "
        "over %.1f s; the fake issued %zu tokens\n",
        ok, distinct.size(), invalid, failed, end - t0, by_fp.size());
    report_gaps(all, events, end);
    const auto counts = git_server_->counts();
    std::printf("git server: %d accepted, %d refused with credentials\n", counts.accepted,
                counts.refused_with_credentials());
    EXPECT_EQ(invalid, 0);
}

}  // namespace
