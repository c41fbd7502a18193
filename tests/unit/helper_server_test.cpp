// The credential helper socket against a registry of rigs on a fake clock and
// a scripted source (docs/design.md: the helper front end).
#include "credfs/helper/helper_server.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "credfs/cli/credential_helper.hpp"
#include "credfs/helper/credential_protocol.hpp"
#include "credfs/helper/helper_client.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

using test::eventually;

constexpr char kGitHub[] = "protocol=https\nhost=github.com\n";

class HelperServerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        server_ =
            std::make_unique<HelperServer>(path_, registry_, [] { return "{\"rigs\": []}\n"; });
        ASSERT_NO_THROW(server_->start());
    }
    DaemonAnswer ask(const std::string& request) { return ask_daemon(path_, request); }
    /// The attributes of a `get` for `rig` with `attributes` (then a blank line).
    CredentialAttributes get(const std::string& rig, const std::string& attributes = kGitHub) {
        const DaemonAnswer a = ask("get " + rig + "\n" + attributes + "\n");
        EXPECT_EQ(a.outcome, DaemonAnswer::Outcome::Answered) << a.error;
        const ParsedAttributes p = parse_credential_attributes(a.text);
        EXPECT_EQ(p.error, "");
        return p.attributes;
    }

    test::TempDir dir_;
    std::string path_ = dir_.path() + "/h.sock";
    Config config_ = test::two_rig_config();
    test::FakeClock clock_;
    test::FakeSource source_{clock_, 60};
    RigRegistry registry_{config_, source_, clock_, [] { return 0.0; }, {}};
    std::unique_ptr<HelperServer> server_;
};

TEST_F(HelperServerTest, GetAnswersTheFreshTokenWithItsExpiry) {
    const CredentialAttributes a = get("rig-a");
    EXPECT_EQ(a.protocol, "https");
    EXPECT_EQ(a.host, "github.com");
    EXPECT_EQ(a.username, "x-access-token");
    ASSERT_TRUE(registry_.find("rig-a")->current());
    EXPECT_EQ(a.password, registry_.find("rig-a")->current()->token);
    const auto expiry = registry_.find("rig-a")->current()->expires_at;
    EXPECT_EQ(a.password_expiry_utc,
              std::chrono::duration_cast<std::chrono::seconds>(expiry.time_since_epoch()).count());
    EXPECT_EQ(source_.calls(), 1);
    // By id when no file has that name; the host in any case; useHttpPath's path is ignored.
    const std::string b = get("rig-b", "protocol=https\nhost=GitHub.com\npath=o/r.git\n").password;
    ASSERT_TRUE(registry_.find("b.cred")->current());
    EXPECT_EQ(b, registry_.find("b.cred")->current()->token);
}

TEST_F(HelperServerTest, ATokenThatNeverExpiresHasNoExpiryAttribute) {
    source_.push(Token{"ghp_forever", WallTime::max()});
    const CredentialAttributes a = get("rig-a");
    EXPECT_EQ(a.password, "ghp_forever");
    EXPECT_EQ(a.password_expiry_utc, std::nullopt);
}

TEST_F(HelperServerTest, AnotherHostOrProtocolGetsNothing) {
    for (const char* other : {"protocol=https\nhost=gitlab.example\n",
                              "protocol=http\nhost=github.com\n", "host=github.com\n"}) {
        const DaemonAnswer a = ask(std::string("get rig-a\n") + other + "\n");
        EXPECT_EQ(a.outcome, DaemonAnswer::Outcome::Answered);
        EXPECT_EQ(a.text, "") << other;
    }
    EXPECT_EQ(source_.calls(), 0);
}

TEST_F(HelperServerTest, NoUnexpiredTokenInTimeGetsNothing) {
    config_.refresh.read_timeout_s = 0.05;  // the rigs read it on every open
    source_.fail_next(100);
    EXPECT_EQ(ask(std::string("get rig-a\n") + kGitHub + "\n").text, "");
}

TEST_F(HelperServerTest, EraseOfTheCurrentTokenRefreshesAndOfAnOlderOneDoesNot) {
    config_.refresh.publish_delay_s = 0;  // no lag window: a young token's erase is a rejection
    const std::string first = get("rig-a").password;
    const std::string attrs = std::string(kGitHub) + "username=x-access-token\npassword=";
    EXPECT_EQ(ask("erase rig-a\n" + attrs + first + "\n\n").text, "");
    ASSERT_TRUE(eventually([&] { return registry_.find("rig-a")->current()->token != first; }));
    EXPECT_EQ(source_.calls(), 2);
    clock_.advance(10);  // past the reject cooldown: only the password stops a refresh now
    EXPECT_EQ(ask("erase rig-a\n" + attrs + first + "\n\n").text, "");
    EXPECT_EQ(ask("erase rig-a\nprotocol=https\nhost=gitlab.example\npassword=" +
                  registry_.find("rig-a")->current()->token + "\n\n")
                  .text,
              "");
    EXPECT_FALSE(registry_.find("rig-a")->refresh_in_flight());
    EXPECT_EQ(source_.calls(), 2);
    EXPECT_EQ(registry_.find("rig-a")->stats().rejections, 1u);
}

TEST_F(HelperServerTest, StoreDoesNothingAndStatusIsTheDocument) {
    EXPECT_EQ(ask(std::string("store rig-a\n") + kGitHub + "password=x\n\n").text, "");
    EXPECT_EQ(source_.calls(), 0);
    EXPECT_EQ(ask("status\n\n").text, "{\"rigs\": []}\n");
}

TEST_F(HelperServerTest, BadRequestsGetOneErrorLine) {
    EXPECT_EQ(ask("fetch rig-a\n\n").text,
              "error=unknown request (expected get, erase, store RIG or status)\n");
    EXPECT_EQ(ask(std::string("get nope\n") + kGitHub + "\n").text,
              "error=no rig named nope (by file name or id)\n");
    EXPECT_EQ(ask("get rig-a\nghs_secret\n\n").text, "error=line 1 is not key=value\n");
}

TEST_F(HelperServerTest, GreetingCarriesTheAnswerBound) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path_.c_str());
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    char buf[128] = {};
    const ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "gastown-credfs 1 timeout_s=21\n");  // 20 s + 1
}

TEST_F(HelperServerTest, AnotherUidIsRefusedWithoutAGreeting) {
    ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
    ASSERT_EQ(::chmod(path_.c_str(), 0666), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // Only system calls between fork and _exit: the parent has threads.
        if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
            ::_exit(3);
        }
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ::_exit(2);
        char c;
        ::_exit(::recv(fd, &c, 1, 0) == 0 ? 0 : 1);  // 0: closed with nothing said
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: greeted, 2: could not connect, 3: setresuid failed";
    // Our own uid is still served.
    EXPECT_FALSE(get("rig-a").password.empty());
}

TEST_F(HelperServerTest, SocketIsPrivateAndRemovedOnStop) {
    struct stat st {};
    ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    server_->stop();
    EXPECT_NE(::lstat(path_.c_str(), &st), 0);
    EXPECT_EQ(ask("status\n\n").outcome, DaemonAnswer::Outcome::NoDaemon);
}

TEST_F(HelperServerTest, ALiveSocketOrAnotherFileIsNotReplacedAStaleSocketIs) {
    HelperServer second(path_, registry_, [] { return ""; });
    try {
        second.start();
        ADD_FAILURE() << "a second server took a live socket";
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
    }
    const std::string file = dir_.path() + "/plain";
    std::ofstream(file) << "x";
    HelperServer on_file(file, registry_, [] { return ""; });
    EXPECT_THROW(on_file.start(), std::system_error);
    EXPECT_TRUE(std::filesystem::is_regular_file(file));

    // A socket left by a dead server (bound, never listening, closed).
    const std::string stale = dir_.path() + "/stale.sock";
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, stale.c_str(), stale.size() + 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
    HelperServer replacing(stale, registry_, [] { return "{}\n"; });
    ASSERT_NO_THROW(replacing.start());
    EXPECT_EQ(ask_daemon(stale, "status\n\n").text, "{}\n");
}

/// The command's part: stdin and stdout as memory files.
std::pair<std::string, std::string> run_helper(const CredentialHelperOptions& options,
                                               const std::string& input) {
    std::FILE* in = ::fmemopen(const_cast<char*>(input.data()), input.size(), "r");
    std::FILE* out = std::tmpfile();
    std::FILE* err = std::tmpfile();
    EXPECT_EQ(run_credential_helper(options, in, out, err), 0);
    const auto text = [](std::FILE* f) {
        std::rewind(f);
        std::string s;
        for (int c; (c = std::fgetc(f)) != EOF;) s += static_cast<char>(c);
        std::fclose(f);
        return s;
    };
    std::fclose(in);
    return {text(out), text(err)};
}

TEST_F(HelperServerTest, TheCommandPrintsTheCredentialOrNothing) {
    const auto [out, err] = run_helper({path_, "rig-a", "get"}, std::string(kGitHub) + "\n");
    EXPECT_EQ(err, "");
    const auto token = registry_.find("rig-a")->current()->token;
    EXPECT_NE(out.find("password=" + token + "\n"), std::string::npos) << out;
    EXPECT_NE(out.find("password_expiry_utc="), std::string::npos) << out;

    const auto [bad_out, bad_err] = run_helper({path_, "rig-a", "get"}, "password\n\n");
    EXPECT_EQ(bad_out, "");
    EXPECT_EQ(bad_err,
              "gastown-credfs credential-helper: bad request from git: line 1 is not "
              "key=value\n");
    const auto [unknown_out, unknown_err] = run_helper({path_, "nope", "get"}, kGitHub);
    EXPECT_EQ(unknown_out, "");
    EXPECT_EQ(unknown_err,
              "gastown-credfs credential-helper: daemon: no rig named nope (by file name or id)\n");
    for (const char* action : {"store", "capability", "erase"}) {
        EXPECT_EQ(run_helper({path_, "rig-a", action}, std::string(kGitHub) + "password=p\n\n"),
                  std::make_pair(std::string(), std::string()))
            << action;
    }
    server_->stop();
    EXPECT_EQ(run_helper({path_, "rig-a", "get"}, kGitHub),
              std::make_pair(std::string(), std::string()));
}

}  // namespace
}  // namespace credfs
