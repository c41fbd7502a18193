#include "git_world.hpp"

#include <httplib.h>
#include <json/json.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace credfs::e2e {
namespace {

void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + path);
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string trim_newline(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
}

}  // namespace

std::string GitRun::describe() const {
    std::ostringstream out;
    out << "exit " << exit_code << (timed_out ? " (timed out)" : "") << ", stderr:\n" << err;
    return out.str();
}

std::vector<std::string> credential_complaints(const std::string& err) {
    // What git prints when a helper cannot lock or write its file, when it
    // has no credential to offer, and when the server refused the login.
    static const std::vector<std::string> kMarkers = {
        "credential",
        "storage",
        "could not read username",
        "could not read password",
        "authentication failed",
        "invalid username or password",
    };
    std::vector<std::string> lines;
    std::istringstream in(err);
    for (std::string line; std::getline(in, line);) {
        const std::string l = lower(line);
        for (const auto& m : kMarkers) {
            if (l.find(m) != std::string::npos) {
                lines.push_back(line);
                break;
            }
        }
    }
    return lines;
}

std::optional<std::string> first_line_token(const std::string& content, const std::string& user,
                                            const std::string& host) {
    const std::string line = content.substr(0, content.find('\n'));
    const std::string prefix = "https://" + user + ":";
    const std::string suffix = "@" + host;
    if (line.size() <= prefix.size() + suffix.size() || !line.starts_with(prefix) ||
        !line.ends_with(suffix)) {
        return std::nullopt;
    }
    return line.substr(prefix.size(), line.size() - prefix.size() - suffix.size());
}

GitWorld::GitWorld() : fake_(kJwt) {}

void GitWorld::SetUp() {
    base_dir_ = harness_.root() + "/e2e";
    home_dir_ = base_dir_ + "/home";
    repos_dir_ = base_dir_ + "/repos";
    work_dir_ = base_dir_ + "/work";
    ca_file_ = base_dir_ + "/git-server-ca.pem";
    for (const auto& d : {home_dir_, repos_dir_, work_dir_}) std::filesystem::create_directories(d);
    fakes::create_bare_repo(repos_dir_ + "/" + kRepo + ".git");

    fakes::GitHttpServer::Options options;
    options.project_root = repos_dir_;
    options.expected_user = kUser;
    options.ca_file = ca_file_;
    // The whole point: only a token the upstream issued, not expired and not
    // revoked, opens the repository, as on GitHub.
    options.check = [this](const std::string& user, const std::string& token) {
        return user == kUser && fake_.is_valid(token);
    };
    // And, when a test sets a replication lag, not before GitHub would know
    // it (no lag: never).
    options.lagged = [this](const std::string&, const std::string& token) {
        return fake_.is_lagged(token);
    };
    git_server_ = std::make_unique<fakes::GitHttpServer>(std::move(options));
}

void GitWorld::TearDown() {
    if (HasFailure()) {
        const auto counts = git_server_->counts();
        std::cerr << "git server: accepted " << counts.accepted << ", missing " << counts.missing
                  << ", malformed " << counts.malformed << ", wrong user " << counts.wrong_user
                  << ", bad token " << counts.bad_token << ", lagged " << counts.lagged
                  << ", backend errors " << git_server_->backend_errors() << "\n";
        for (const auto& e : git_server_->backend_error_log()) std::cerr << "  " << e << "\n";
        if (daemon_started_) std::cerr << harness_.diagnostics();
    }
}

void GitWorld::start_daemon(const itest::RefreshParams& refresh, const std::string& rig_host,
                            const itest::StartOptions& options) {
    harness_.write_jwt(kJwt);
    // The rig's line must name the git server's host:port.
    harness_.write_config(fake_.base_url(), refresh,
                          {{kRig, "", rig_host.empty() ? git_server_->host() : rig_host}});
    ASSERT_TRUE(harness_.start(options));
    daemon_started_ = true;
}

namespace {

/// $HOME/.gitconfig for the agents: identity, TLS trust, and `helpers`
/// (each a credential.helper value) after an empty one, which drops any
/// helper configured elsewhere.
std::string gitconfig(const std::vector<std::string>& helpers, const std::string& ca_file) {
    std::string out =
        "[user]\n\tname = e2e agent\n\temail = agent@example.invalid\n"
        "[credential]\n\thelper =\n";
    for (const auto& h : helpers) out += "\thelper = \"" + h + "\"\n";
    return out + "\tuseHttpPath = false\n[http]\n\tsslCAInfo = " + ca_file +
           "\n[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n";
}

}  // namespace

void GitWorld::configure_git(const std::string& store_file) const {
    write_file(home_dir_ + "/.gitconfig", gitconfig({"store --file=" + store_file}, ca_file_));
}

void GitWorld::configure_git_helper_only(const std::string& socket) const {
    write_file(home_dir_ + "/.gitconfig",
               gitconfig({std::string("!") + CREDFS_BINARY + " credential-helper --socket " +
                          socket + " --rig " + kRig},
                         ca_file_));
}

GitRun GitWorld::git(const std::vector<std::string>& args, const std::string& input,
                     std::chrono::milliseconds timeout) const {
    std::vector<std::string> argv = {"git"};
    argv.insert(argv.end(), args.begin(), args.end());
    // Nothing from the test runner's environment reaches git: no askpass, no
    // terminal prompt, no system or user config but ours.
    const std::vector<std::string> env = {
        "HOME=" + home_dir_,
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "GIT_CONFIG_NOSYSTEM=1",
        "GIT_TERMINAL_PROMPT=0",
        "LC_ALL=C",
    };
    const auto r = fakes::run_program(argv, env, input, timeout);
    return GitRun{r.exit_code, r.timed_out, r.out, r.err};
}

GitRun GitWorld::git_in(const std::string& dir, const std::vector<std::string>& args) const {
    std::vector<std::string> full = {"-C", dir};
    full.insert(full.end(), args.begin(), args.end());
    return git(full);
}

GitRun GitWorld::clone(const std::string& name) const {
    return git({"clone", "--quiet", git_server_->repo_url(kRepo), clone_path(name)});
}

GitRun GitWorld::commit(const std::string& dir, const std::string& message) const {
    return git_in(dir, {"commit", "--quiet", "--allow-empty", "-m", message});
}

GitRun GitWorld::push(const std::string& dir, const std::string& branch) const {
    return git_in(dir, {"push", "--quiet", "origin", "HEAD:refs/heads/" + branch});
}

GitRun GitWorld::fetch(const std::string& dir) const {
    return git_in(dir, {"fetch", "--quiet", "origin"});
}

std::string GitWorld::server_ref(const std::string& branch) const {
    const auto r = git({"--git-dir=" + repos_dir_ + "/" + kRepo + ".git", "rev-parse", "--verify",
                        "--quiet", "refs/heads/" + branch});
    return r.exit_code == 0 ? trim_newline(r.out) : std::string();
}

std::string GitWorld::fetch_token_directly(const std::string& rig) {
    httplib::Client client(fake_.base_url());
    const auto res = client.Post("/api/towns/t1/rigs/" + rig + "/refresh-git-token",
                                 httplib::Headers{{"Authorization", std::string("Bearer ") + kJwt}},
                                 "", "application/json");
    if (!res || res->status != 200) throw std::runtime_error("fake upstream refused a token");
    Json::Value body;
    std::istringstream in(res->body);
    in >> body;
    return body["token"].asString();
}

std::vector<double> GitWorld::on_demand_waits() const {
    std::vector<double> waits;
    std::istringstream in(harness_.log_text());
    const std::string marker = "open waited ";
    for (std::string line; std::getline(in, line);) {
        const auto at = line.find(marker);
        if (at == std::string::npos) continue;
        waits.push_back(std::stod(line.substr(at + marker.size())));
    }
    return waits;
}

}  // namespace credfs::e2e
