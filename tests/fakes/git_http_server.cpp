#include "git_http_server.hpp"
#include "serve_loop.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <spawn.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace credfs::fakes {
namespace {

using SteadyClock = std::chrono::steady_clock;

// A push or fetch of a test repository takes milliseconds; this only stops a
// wedged http-backend from pinning a server thread forever.
constexpr std::chrono::seconds kCgiTimeout{60};
// git keeps a connection per remote helper process; 8+ agents plus their
// retries must never queue behind idle keep-alive connections.
constexpr std::size_t kServerThreads = 64;
constexpr std::size_t kMaxErrorLog = 20;

void ignore_sigpipe_once() {
    // Writing a request body to a CGI child that exited early must show up as
    // EPIPE, not kill the test process.
    static const bool done = [] {
        std::signal(SIGPIPE, SIG_IGN);
        return true;
    }();
    (void)done;
}

std::string base64_decode(const std::string& in, bool& ok) {
    static const std::string kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    unsigned int acc = 0;
    int bits = 0;
    std::size_t i = 0;
    for (; i < in.size() && in[i] != '='; ++i) {
        const auto pos = kAlphabet.find(in[i]);
        if (pos == std::string::npos) {
            ok = false;
            return {};
        }
        acc = (acc << 6) | static_cast<unsigned int>(pos);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    // Only padding may follow, and the total must be whole quads.
    for (; i < in.size(); ++i) {
        if (in[i] != '=') {
            ok = false;
            return {};
        }
    }
    ok = in.size() % 4 == 0;
    return out;
}

template <typename T, void (*Free)(T*)>
struct OsslDeleter {
    void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, OsslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OsslDeleter<X509, X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, OsslDeleter<X509_EXTENSION, X509_EXTENSION_free>>;

void add_extension(X509* cert, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
        throw std::runtime_error(std::string("git-http-server: cannot add extension ") + value);
    }
}

// A throwaway certificate for 127.0.0.1, made at start so no key material
// lives in the repository and nothing depends on the openssl command.
std::pair<X509Ptr, PkeyPtr> make_self_signed_cert() {
    PkeyPtr key(EVP_EC_gen("P-256"));
    X509Ptr cert(X509_new());
    if (!key || !cert) throw std::runtime_error("git-http-server: cannot create key/cert");
    X509_set_version(cert.get(), 2);  // v3: needed for subjectAltName
    std::random_device rd;
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(rd() & 0x7fffffff));
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60 * 60);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 60 * 60);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    // Clients check the IP against subjectAltName, never the CN.
    add_extension(cert.get(), NID_subject_alt_name, "IP:127.0.0.1");
    add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign");
    add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
        throw std::runtime_error("git-http-server: cannot sign the certificate");
    }
    return {std::move(cert), std::move(key)};
}

void write_cert_pem(X509* cert, const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) throw std::runtime_error("git-http-server: cannot write " + path);
    const bool ok = PEM_write_X509(f, cert) == 1;
    if (std::fclose(f) != 0 || !ok) {
        throw std::runtime_error("git-http-server: cannot write " + path);
    }
}

struct CgiResponse {
    int status = 200;
    std::string content_type;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

std::string trim(std::string s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    const auto e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// RFC 3875 section 6: header lines, an empty line, then the body.
bool parse_cgi_output(const std::string& out, CgiResponse& response) {
    std::size_t pos = 0;
    while (true) {
        const auto eol = out.find('\n', pos);
        if (eol == std::string::npos) return false;  // no end of headers
        std::string line = out.substr(pos, eol - pos);
        pos = eol + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) break;
        const auto colon = line.find(':');
        if (colon == std::string::npos) return false;
        const std::string name = line.substr(0, colon);
        const std::string value = trim(line.substr(colon + 1));
        if (strcasecmp(name.c_str(), "Status") == 0) {
            response.status = std::atoi(value.c_str());
            if (response.status < 100 || response.status > 599) return false;
        } else if (strcasecmp(name.c_str(), "Content-Type") == 0) {
            response.content_type = value;
        } else if (strcasecmp(name.c_str(), "Content-Length") != 0) {
            // httplib computes the length of what it sends.
            response.headers.emplace_back(name, value);
        }
    }
    response.body = out.substr(pos);
    return true;
}

// The raw query string: httplib only keeps it inside the request target.
std::string query_of(const httplib::Request& req) {
    const auto q = req.target.find('?');
    return q == std::string::npos ? std::string() : req.target.substr(q + 1);
}

bool is_gzip(const std::string& body) {
    return body.size() >= 2 && static_cast<unsigned char>(body[0]) == 0x1f &&
           static_cast<unsigned char>(body[1]) == 0x8b;
}

}  // namespace

ProgramResult run_program(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::string& input, std::chrono::milliseconds timeout) {
    ignore_sigpipe_once();
    ProgramResult result;
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0) return result;
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
        ::close(in_pipe[0]);
        ::close(in_pipe[1]);
        return result;
    }
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
        for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) ::close(fd);
        return result;
    }

    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    // Listening and client sockets of the servers in this process are not
    // all close-on-exec; a child holding one would keep connections alive.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    pid_t pid = -1;
    const int spawn_error =
        ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (spawn_error != 0) {
        ::close(in_pipe[1]);
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        result.err = std::string("spawn ") + argv[0] + ": " + std::strerror(spawn_error);
        return result;
    }

    // Request bodies can exceed the pipe buffer while the child is already
    // writing its answer: feed stdin and drain stdout/stderr in one loop.
    ::fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
    std::size_t written = 0;
    int in_fd = in_pipe[1];
    if (input.empty()) {
        ::close(in_fd);
        in_fd = -1;
    }
    std::array<pollfd, 3> fds{};
    std::array<std::string*, 2> sinks{&result.out, &result.err};
    int out_fds[2] = {out_pipe[0], err_pipe[0]};
    const auto deadline = SteadyClock::now() + timeout;
    while (out_fds[0] >= 0 || out_fds[1] >= 0) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
        if (left.count() <= 0) {
            result.timed_out = true;
            break;
        }
        fds[0] = {out_fds[0], POLLIN, 0};
        fds[1] = {out_fds[1], POLLIN, 0};
        fds[2] = {in_fd, POLLOUT, 0};
        if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            char buf[65536];
            const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                sinks[i]->append(buf, static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                ::close(out_fds[i]);
                out_fds[i] = -1;
            }
        }
        if (in_fd >= 0 && fds[2].revents != 0) {
            const ssize_t n = ::write(in_fd, input.data() + written, input.size() - written);
            if (n > 0) written += static_cast<std::size_t>(n);
            // EPIPE: the child stopped reading; what it answers still counts.
            if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) {
                ::close(in_fd);
                in_fd = -1;
            }
        }
    }
    if (in_fd >= 0) ::close(in_fd);
    for (int fd : out_fds) {
        if (fd >= 0) ::close(fd);
    }
    if (result.timed_out) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    return result;
}

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

GitHttpServer::GitHttpServer(Options options) : options_(std::move(options)) {
    if (!options_.check) throw std::invalid_argument("git-http-server: no auth check");
    ignore_sigpipe_once();
    std::unique_ptr<httplib::Server> server;
    if (options_.scheme == Scheme::Https) {
        if (options_.ca_file.empty()) throw std::invalid_argument("git-http-server: no ca_file");
        auto [cert, key] = make_self_signed_cert();
        write_cert_pem(cert.get(), options_.ca_file);
        ca_file_ = options_.ca_file;
        // SSLServer takes its own references to both.
        server = std::make_unique<httplib::SSLServer>(cert.get(), key.get());
    } else {
        server = std::make_unique<httplib::Server>();
    }
    if (!server->is_valid()) throw std::runtime_error("git-http-server: TLS setup failed");
    server->new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
    // A short keep-alive lets stop() return soon after the last git exits.
    server->set_keep_alive_timeout(2);
    // Exclusive port: no second listener may take a share of the connections
    // (httplib's default sets SO_REUSEPORT).
    server->set_socket_options([](int sock) {
        const int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    const auto handler = [this](const httplib::Request& req, httplib::Response& res) {
        handle(req, res);
    };
    server->Get(".*", handler);
    server->Post(".*", handler);
    if (options_.port == 0) {
        port_ = server->bind_to_any_port("127.0.0.1");
        if (port_ <= 0) throw std::runtime_error("git-http-server: cannot bind 127.0.0.1:0");
    } else {
        if (!server->bind_to_port("127.0.0.1", options_.port)) {
            throw std::runtime_error("git-http-server: cannot bind 127.0.0.1:" +
                                     std::to_string(options_.port));
        }
        port_ = options_.port;
    }
    loop_ = run_bound_server(*server, "git-http-server");
    server_ = std::move(server);
}

GitHttpServer::~GitHttpServer() { stop(); }

void GitHttpServer::stop() {
    std::lock_guard lifecycle(lifecycle_mu_);
    if (!server_) return;
    server_->stop();
    loop_.join();
    server_.reset();
}

std::string GitHttpServer::host() const { return "127.0.0.1:" + std::to_string(port_); }

std::string GitHttpServer::base_url() const {
    return std::string(options_.scheme == Scheme::Https ? "https://" : "http://") + host();
}

std::string GitHttpServer::repo_url(const std::string& name) const {
    return base_url() + "/" + name + ".git";
}

AuthCounts GitHttpServer::counts() const {
    std::lock_guard lk(mu_);
    return counts_;
}

BodyCounts GitHttpServer::body_counts() const {
    std::lock_guard lk(mu_);
    return body_counts_;
}

int GitHttpServer::backend_errors() const {
    std::lock_guard lk(mu_);
    return backend_errors_;
}

std::vector<std::string> GitHttpServer::backend_error_log() const {
    std::lock_guard lk(mu_);
    return backend_error_log_;
}

void GitHttpServer::note_backend_error(std::string what) {
    std::lock_guard lk(mu_);
    ++backend_errors_;
    if (backend_error_log_.size() < kMaxErrorLog) backend_error_log_.push_back(std::move(what));
}

void GitHttpServer::handle(const httplib::Request& req, httplib::Response& res) {
    if (!authorize(req, res)) return;
    run_backend(req, res);
}

bool GitHttpServer::authorize(const httplib::Request& req, httplib::Response& res) {
    auto refuse = [&](AuthRejection why) {
        {
            std::lock_guard lk(mu_);
            switch (why) {
                case AuthRejection::Missing:
                    ++counts_.missing;
                    break;
                case AuthRejection::Malformed:
                    ++counts_.malformed;
                    break;
                case AuthRejection::WrongUser:
                    ++counts_.wrong_user;
                    break;
                case AuthRejection::BadToken:
                    ++counts_.bad_token;
                    break;
            }
        }
        // The challenge is what makes git consult its credential helpers,
        // and, after a failed retry, run `credential reject`.
        res.status = 401;
        res.set_header("WWW-Authenticate", "Basic realm=\"git\"");
        res.set_content("authentication required\n", "text/plain");
        return false;
    };
    if (!req.has_header("Authorization")) return refuse(AuthRejection::Missing);
    const std::string header = req.get_header_value("Authorization");
    constexpr std::string_view kBasic = "Basic ";
    if (header.size() <= kBasic.size() || strncasecmp(header.c_str(), "Basic ", 6) != 0) {
        return refuse(AuthRejection::Malformed);
    }
    bool ok = true;
    const std::string decoded = base64_decode(trim(header.substr(kBasic.size())), ok);
    const auto colon = decoded.find(':');
    if (!ok || colon == std::string::npos) return refuse(AuthRejection::Malformed);
    const std::string user = decoded.substr(0, colon);
    const std::string token = decoded.substr(colon + 1);
    if (!options_.check(user, token)) {
        return refuse(user == options_.expected_user ? AuthRejection::BadToken
                                                     : AuthRejection::WrongUser);
    }
    std::lock_guard lk(mu_);
    ++counts_.accepted;
    return true;
}

void GitHttpServer::run_backend(const httplib::Request& req, httplib::Response& res) {
    std::vector<std::string> env = {
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "HOME=" + options_.project_root,  // no user config leaks into the server
        "GIT_CONFIG_NOSYSTEM=1",
        "GIT_PROJECT_ROOT=" + options_.project_root,
        "GIT_HTTP_EXPORT_ALL=1",
        "GATEWAY_INTERFACE=CGI/1.1",
        "SERVER_PROTOCOL=HTTP/1.1",
        "REQUEST_METHOD=" + req.method,
        "PATH_INFO=" + req.path,
        "QUERY_STRING=" + query_of(req),
        "REMOTE_ADDR=" + req.remote_addr,
        "REMOTE_USER=" + options_.expected_user,
        "CONTENT_LENGTH=" + std::to_string(req.body.size()),
    };
    if (req.has_header("Content-Type")) {
        env.push_back("CONTENT_TYPE=" + req.get_header_value("Content-Type"));
    }
    // Protocol v2 is negotiated through this header; http-backend reads it
    // from the CGI variable.
    if (req.has_header("Git-Protocol")) {
        env.push_back("HTTP_GIT_PROTOCOL=" + req.get_header_value("Git-Protocol"));
    }
    // git gzips larger request bodies. This httplib build (zlib support)
    // inflates them before the handler runs but leaves the header; tell
    // http-backend only when the bytes really are still compressed, or it
    // would try to inflate plain pkt-lines.
    const bool gzip = req.get_header_value("Content-Encoding") == "gzip";
    if (gzip && is_gzip(req.body)) env.push_back("HTTP_CONTENT_ENCODING=gzip");
    {
        std::lock_guard lk(mu_);
        if (gzip) ++body_counts_.gzip;
        if (req.get_header_value("Transfer-Encoding") == "chunked") ++body_counts_.chunked;
    }

    const auto r = run_program({"git", "http-backend"}, env, req.body,
                               std::chrono::duration_cast<std::chrono::milliseconds>(kCgiTimeout));
    CgiResponse cgi;
    if (r.exit_code != 0 || !parse_cgi_output(r.out, cgi)) {
        note_backend_error(req.method + " " + req.path + ": http-backend exit " +
                           std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") +
                           ": " + trim(r.err));
        res.status = 500;
        res.set_content("http-backend failed\n", "text/plain");
        return;
    }
    if (cgi.status >= 400) {
        note_backend_error(req.method + " " + req.path + ": http-backend status " +
                           std::to_string(cgi.status) + ": " + trim(r.err));
    }
    res.status = cgi.status;
    for (const auto& [name, value] : cgi.headers) res.set_header(name, value);
    res.set_content(cgi.body,
                    cgi.content_type.empty() ? "application/octet-stream" : cgi.content_type);
}

}  // namespace credfs::fakes
