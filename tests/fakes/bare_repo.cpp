#include "bare_repo.hpp"

#include "run_program.hpp"
#include "trim.hpp"

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace credfs::fakes {

void create_bare_repo(const std::string& path) {
    const std::vector<std::string> env = {
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "HOME=/nonexistent",
        "GIT_CONFIG_NOSYSTEM=1",
        "GIT_AUTHOR_NAME=fixture",
        "GIT_AUTHOR_EMAIL=fixture@example.invalid",
        "GIT_COMMITTER_NAME=fixture",
        "GIT_COMMITTER_EMAIL=fixture@example.invalid",
    };
    auto git = [&](std::vector<std::string> args, const std::string& input = "") {
        args.insert(args.begin(), {"git", "--git-dir=" + path});
        const auto r = run_program(args, env, input, std::chrono::seconds(30));
        if (r.exit_code != 0) {
            throw std::runtime_error("create_bare_repo: git " + args[2] + " failed: " + r.err);
        }
        return trim(r.out);
    };
    std::filesystem::create_directories(path);
    git({"init", "--quiet", "--bare", "--initial-branch=main"});
    git({"config", "http.receivepack", "true"});
    // An automatic repack in the middle of concurrent pushes would only add
    // noise; the tests measure credentials, not git's housekeeping.
    git({"config", "gc.auto", "0"});
    git({"config", "receive.autogc", "false"});
    // One commit built without a work tree, so the fixture needs no clone.
    const std::string blob = git({"hash-object", "-w", "--stdin"}, "fixture repository\n");
    const std::string tree = git({"mktree"}, "100644 blob " + blob + "\tREADME\n");
    const std::string commit = git({"commit-tree", tree, "-m", "initial commit"});
    git({"update-ref", "refs/heads/main", commit});
}

}  // namespace credfs::fakes
