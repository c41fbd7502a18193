// What git sees in the mount root: the rig files, their attributes, and a
// credential that git's own store helper accepts.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <sstream>

#include <json/json.h>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

std::map<std::string, std::string> parse_credential(const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        const auto eq = line.find('=');
        if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return out;
}

std::vector<std::string> visible_entries(const std::string& dir) {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return names;
    while (const dirent* e = ::readdir(d)) {
        // Like ls without -a: the daemon may keep dot-files of its own.
        if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

class FsBasicsTest : public MountTest {
  protected:
    void SetUp() override {
        RefreshParams refresh;
        refresh.margin_s = 60;
        refresh.min_ttl_s = 30;
        refresh.jitter_s = 1;
        ASSERT_NO_FATAL_FAILURE(start_daemon(refresh, {{"rig-a", ""}, {"rig-b", "b.cred"}}));
    }
};

TEST_F(FsBasicsTest, GitCredentialStoreGetsTheCurrentToken) {
    std::string seen_a;
    for (const auto& [rig, file] : {std::pair{"rig-a", "rig-a"}, std::pair{"rig-b", "b.cred"}}) {
        SCOPED_TRACE(rig);
        const ProcessResult git =
            run_process({"git", "credential-store", "--file", harness_.file(file), "get"},
                        "protocol=https\nhost=github.com\n\n", 20s);
        ASSERT_FALSE(git.timed_out);
        ASSERT_EQ(git.exit_code, 0) << git.error;
        const auto cred = parse_credential(git.output);
        EXPECT_EQ(cred.count("username") ? cred.at("username") : "", "x-access-token");
        ASSERT_TRUE(cred.count("password")) << git.output;
        const std::string password = cred.at("password");
        EXPECT_TRUE(fake_.is_valid(password)) << "git got a token the fake never issued or "
                                                 "that already expired";
        EXPECT_EQ(fake_.current_token(rig).value_or("<none>"), password);
        if (seen_a.empty()) {
            seen_a = password;
        } else {
            EXPECT_NE(password, seen_a) << "two rigs served the same token";
        }
    }
}

TEST_F(FsBasicsTest, RootListsExactlyTheRigFiles) {
    EXPECT_EQ(visible_entries(harness_.mountpoint()),
              (std::vector<std::string>{"b.cred", "rig-a"}));
}

TEST_F(FsBasicsTest, RigFilesArePrivateRegularFilesSizedToTheirContent) {
    for (const std::string name : {"rig-a", "b.cred"}) {
        SCOPED_TRACE(name);
        // Read first: before the first token arrives the file is empty.
        const ReadResult r = read_whole_file(harness_.file(name));
        ASSERT_EQ(r.error, 0) << std::strerror(r.error);
        struct stat st {};
        ASSERT_EQ(::stat(harness_.file(name).c_str(), &st), 0) << std::strerror(errno);
        EXPECT_TRUE(S_ISREG(st.st_mode));
        EXPECT_EQ(st.st_mode & 07777, 0600u);
        EXPECT_EQ(st.st_uid, ::getuid());
        EXPECT_EQ(st.st_gid, ::getgid());
        EXPECT_EQ(static_cast<std::size_t>(st.st_size), r.data.size());
        const auto token = token_from_line(r.data);
        ASSERT_TRUE(token.has_value()) << "not one credential line: " << r.data.size() << " bytes";
        EXPECT_TRUE(fake_.is_valid(*token));
    }
}

TEST_F(FsBasicsTest, UnknownNameIsENOENT) {
    const std::string path = harness_.file("no-such-rig");
    errno = 0;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    const int open_errno = errno;
    if (fd >= 0) ::close(fd);
    EXPECT_EQ(fd, -1);
    EXPECT_EQ(open_errno, ENOENT);
    struct stat st {};
    errno = 0;
    EXPECT_EQ(::stat(path.c_str(), &st), -1);
    EXPECT_EQ(errno, ENOENT);
}

TEST_F(FsBasicsTest, StatusReportsEveryRigAndNoSecret) {
    ASSERT_EQ(read_whole_file(harness_.file("rig-a")).error, 0);
    const ReadResult r = read_whole_file(harness_.file(".status"));
    ASSERT_EQ(r.error, 0) << std::strerror(r.error);
    Json::Value root;
    ASSERT_TRUE(Json::Reader().parse(r.data, root)) << r.data;
    ASSERT_EQ(root["rigs"].size(), 2u);
    EXPECT_EQ(root["rigs"][0]["file"].asString(), "rig-a");
    EXPECT_EQ(root["rigs"][0]["state"].asString(), "ok");
    EXPECT_GT(root["rigs"][0]["seconds_left"].asInt64(), 0);
    EXPECT_EQ(root["rigs"][1]["file"].asString(), "b.cred");
    for (const auto& t : fake_.issued()) EXPECT_EQ(r.data.find(t.token), std::string::npos);
    EXPECT_EQ(r.data.find(kJwt), std::string::npos);
}

}  // namespace
}  // namespace credfs::itest
