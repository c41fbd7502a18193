#include "git_http_server.hpp"

#include "basic_auth.hpp"
#include "http_backend.hpp"
#include "run_program.hpp"
#include "self_signed_tls.hpp"
#include "serve_loop.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <stdexcept>
#include <utility>

namespace credfs::fakes {
namespace {

// git keeps a connection per remote helper process; 8+ agents plus their
// retries must never queue behind idle keep-alive connections.
constexpr std::size_t kServerThreads = 64;
constexpr std::size_t kMaxErrorLog = 20;

}  // namespace

GitHttpServer::GitHttpServer(Options options) : options_(std::move(options)) {
    if (!options_.check) throw std::invalid_argument("git-http-server: no auth check");
    ignore_sigpipe();
    std::unique_ptr<httplib::Server> server;
    if (options_.scheme == Scheme::Https) {
        if (options_.ca_file.empty()) throw std::invalid_argument("git-http-server: no ca_file");
        server = make_self_signed_https_server(options_.ca_file);
        ca_file_ = options_.ca_file;
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
    const BodyEncoding body = body_encoding(req);
    {
        std::lock_guard lk(mu_);
        if (body.gzip) ++body_counts_.gzip;
        if (body.chunked) ++body_counts_.chunked;
    }
    if (auto error =
            answer_with_http_backend(req, options_.project_root, options_.expected_user, res)) {
        note_backend_error(std::move(*error));
    }
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
                case AuthRejection::Lagged:
                    ++counts_.lagged;
                    break;
            }
        }
        // The challenge is what makes git consult its credential helpers,
        // and, after a failed retry, run `credential reject`.
        res.status = 401;
        res.set_header("WWW-Authenticate", "Basic realm=\"git\"");
        // GitHub's words for a token it does not know (yet).
        res.set_content(
            why == AuthRejection::Missing ? "authentication required\n" : "Bad credentials\n",
            "text/plain");
        return false;
    };
    if (!req.has_header("Authorization")) return refuse(AuthRejection::Missing);
    const auto credentials = parse_basic_authorization(req.get_header_value("Authorization"));
    if (!credentials) return refuse(AuthRejection::Malformed);
    if (!options_.check(credentials->user, credentials->token)) {
        return refuse(credentials->user == options_.expected_user ? AuthRejection::BadToken
                                                                  : AuthRejection::WrongUser);
    }
    if (options_.lagged && options_.lagged(credentials->user, credentials->token)) {
        return refuse(AuthRejection::Lagged);
    }
    std::lock_guard lk(mu_);
    ++counts_.accepted;
    return true;
}

}  // namespace credfs::fakes
