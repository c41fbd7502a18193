#include "fake_gastown.hpp"

#include "gastown_answers.hpp"
#include "self_signed_tls.hpp"
#include "serve_loop.hpp"

#include <httplib.h>
#include <json/json.h>
#include <sys/socket.h>

#include <stdexcept>
#include <utility>

namespace credfs::fakes {
namespace {

constexpr char kEndpointPattern[] = R"(/api/towns/([^/]+)/rigs/([^/]+)/refresh-git-token)";

}  // namespace

FakeGastown::FakeGastown(std::string expected_jwt, int port, std::string tls_ca_file)
    : port_(port), tls_ca_file_(std::move(tls_ca_file)), expected_jwt_(std::move(expected_jwt)) {
    std::lock_guard lifecycle(lifecycle_mu_);
    bind_and_serve();
}

FakeGastown::~FakeGastown() { stop(); }

void FakeGastown::set_keep_alive(int idle_s, int max_requests) {
    std::lock_guard lifecycle(lifecycle_mu_);
    keep_alive_idle_s_ = idle_s;
    keep_alive_max_requests_ = max_requests;
}

void FakeGastown::bind_and_serve() {
    {
        std::lock_guard lk(mu_);
        stopping_ = false;
    }
    auto server = tls_ca_file_.empty() ? std::make_unique<httplib::Server>()
                                       : make_self_signed_https_server(tls_ca_file_);
    if (!server->is_valid()) throw std::runtime_error("fake-gastown: the TLS context failed");
    // An idle keep-alive connection pins a worker until this timeout passes;
    // keep it short so stop() returns quickly and really drops every client.
    server->set_keep_alive_timeout(keep_alive_idle_s_);
    server->set_keep_alive_max_count(static_cast<size_t>(keep_alive_max_requests_));
    // cpp-httplib writes a response's headers and body in two sends. Without
    // TCP_NODELAY, Nagle holds the body until the client's delayed ACK (up
    // to 40 ms) on a reused connection; nginx sets it by default too.
    server->set_tcp_nodelay(true);
    // httplib's default is SO_REUSEPORT, which lets a second listener share
    // the port and take some of the connections. REUSEADDR alone still lets
    // start() rebind while old connections sit in TIME_WAIT.
    server->set_socket_options([](int sock) {
        const int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    server->Post(kEndpointPattern,
                 [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
    if (port_ == 0) {
        const int bound = server->bind_to_any_port("127.0.0.1");
        if (bound <= 0) throw std::runtime_error("fake-gastown: cannot bind 127.0.0.1:0");
        port_ = bound;
    } else if (!server->bind_to_port("127.0.0.1", port_)) {
        throw std::runtime_error("fake-gastown: cannot bind 127.0.0.1:" + std::to_string(port_));
    }
    std::thread loop = run_bound_server(*server, "fake-gastown");
    server_ = std::move(server);
    loop_ = std::move(loop);
}

void FakeGastown::stop() {
    std::lock_guard lifecycle(lifecycle_mu_);
    if (!server_) return;
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
    }
    // Held and delayed requests wake up, see stopping_ and answer 503, so the
    // worker pool can drain.
    cv_.notify_all();
    server_->stop();
    loop_.join();
    server_.reset();
}

void FakeGastown::start() {
    std::lock_guard lifecycle(lifecycle_mu_);
    if (server_) return;
    bind_and_serve();
}

bool FakeGastown::running() const {
    std::lock_guard lifecycle(lifecycle_mu_);
    return server_ != nullptr;
}

int FakeGastown::port() const { return port_.load(); }

std::string FakeGastown::base_url() const {
    return (tls_ca_file_.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") +
           std::to_string(port());
}

void FakeGastown::set_expected_jwt(std::string jwt) {
    std::lock_guard lk(mu_);
    expected_jwt_ = std::move(jwt);
}

void FakeGastown::set_ttl(double seconds) {
    std::lock_guard lk(mu_);
    ledger_.set_ttl(seconds);
}

void FakeGastown::set_replication_lag(double seconds) {
    std::lock_guard lk(mu_);
    ledger_.set_replication_lag(seconds);
}

void FakeGastown::set_latency(std::chrono::milliseconds latency) {
    std::lock_guard lk(mu_);
    latency_ = latency;
}

void FakeGastown::set_shape(ResponseShape shape) {
    std::lock_guard lk(mu_);
    shape_ = shape;
}

void FakeGastown::set_token_length(std::size_t random_chars) {
    std::lock_guard lk(mu_);
    ledger_.set_token_length(random_chars);
}

void FakeGastown::force_status(int status, int count, std::string retry_after) {
    std::lock_guard lk(mu_);
    forced_status_ = status;
    forced_remaining_ = count;
    forced_retry_after_ = std::move(retry_after);
}

void FakeGastown::set_fault(Fault fault, int count) {
    {
        std::lock_guard lk(mu_);
        fault_ = count == 0 ? Fault::None : fault;
        fault_remaining_ = count;
        ++fault_generation_;
    }
    cv_.notify_all();  // hung requests end
}

void FakeGastown::set_redirect_location(std::string url) {
    std::lock_guard lk(mu_);
    redirect_location_ = std::move(url);
}

int FakeGastown::faulted() const {
    std::lock_guard lk(mu_);
    return faulted_;
}

void FakeGastown::clear_forced_status() { force_status(0, 0); }

void FakeGastown::set_reissue_same(bool on) {
    std::lock_guard lk(mu_);
    ledger_.set_reissue_same(on);
}

void FakeGastown::revoke(const std::string& token) {
    std::lock_guard lk(mu_);
    ledger_.revoke(token);
}

int FakeGastown::revocations() const {
    std::lock_guard lk(mu_);
    return ledger_.revocations();
}

void FakeGastown::hold() {
    std::lock_guard lk(mu_);
    holding_ = true;
}

void FakeGastown::release() {
    {
        std::lock_guard lk(mu_);
        holding_ = false;
        ++release_generation_;
    }
    cv_.notify_all();
}

int FakeGastown::held() const {
    std::lock_guard lk(mu_);
    return held_;
}

bool FakeGastown::wait_for_held(int n, SteadyClock::time_point deadline) const {
    std::unique_lock lk(mu_);
    return cv_.wait_until(lk, deadline, [&] { return held_ >= n; });
}

bool FakeGastown::wait_for_calls(int n, SteadyClock::time_point deadline) const {
    std::unique_lock lk(mu_);
    return cv_.wait_until(lk, deadline, [&] { return calls_ >= n; });
}

void FakeGastown::set_request_observer(std::function<void(const RequestRecord&)> observer) {
    std::lock_guard lk(mu_);
    observer_ = std::move(observer);
}

int FakeGastown::calls() const {
    std::lock_guard lk(mu_);
    return calls_;
}

int FakeGastown::calls(const std::string& rig_id) const {
    std::lock_guard lk(mu_);
    const auto it = calls_by_rig_.find(rig_id);
    return it == calls_by_rig_.end() ? 0 : it->second;
}

std::vector<IssuedToken> FakeGastown::issued() const {
    std::lock_guard lk(mu_);
    return ledger_.issued();
}

std::vector<IssuedToken> FakeGastown::issued(const std::string& rig_id) const {
    std::lock_guard lk(mu_);
    return ledger_.issued(rig_id);
}

bool FakeGastown::is_valid(const std::string& token) const {
    const auto now = WallClock::now();
    std::lock_guard lk(mu_);
    return ledger_.is_valid(token, now);
}

bool FakeGastown::is_lagged(const std::string& token) const {
    const auto now = WallClock::now();
    std::lock_guard lk(mu_);
    return ledger_.is_lagged(token, now);
}

std::optional<std::string> FakeGastown::current_token(const std::string& rig_id) const {
    const auto t = current(rig_id);
    if (!t) return std::nullopt;
    return t->token;
}

std::optional<IssuedToken> FakeGastown::current(const std::string& rig_id) const {
    const auto now = WallClock::now();
    std::lock_guard lk(mu_);
    return ledger_.current(rig_id, now);
}

std::optional<IssuedToken> FakeGastown::latest(const std::string& rig_id) const {
    std::lock_guard lk(mu_);
    return ledger_.latest(rig_id);
}

std::vector<std::string> FakeGastown::authorizations() const {
    std::lock_guard lk(mu_);
    return authorizations_;
}

void FakeGastown::handle(const httplib::Request& req, httplib::Response& res) {
    RequestRecord record;
    record.town_id = req.matches[1];
    record.rig_id = req.matches[2];
    const std::string auth = req.get_header_value("Authorization");
    std::function<void(const RequestRecord&)> observer;
    {
        std::unique_lock lk(mu_);
        ++calls_;
        ++calls_by_rig_[record.rig_id];
        authorizations_.push_back(auth);
        cv_.notify_all();  // wait_for_calls()

        if (holding_) {
            const auto generation = release_generation_;
            ++held_;
            cv_.notify_all();  // wait_for_held()
            cv_.wait(lk, [&] { return release_generation_ != generation || stopping_; });
            --held_;
        }
        if (const auto latency = latency_; latency.count() > 0) {
            cv_.wait_for(lk, latency, [&] { return stopping_; });
        }

        const bool authorized = expected_jwt_.empty()
                                    ? auth.rfind("Bearer ", 0) == 0 && auth.size() > 7
                                    : auth == "Bearer " + expected_jwt_;
        if (stopping_) {
            res.status = 503;
            res.set_content(error_body("unavailable", "shutting down"), "application/json");
        } else if (!authorized) {
            res.status = 401;
            res.set_content(error_body("unauthorized", "missing or wrong container token"),
                            "application/json");
        } else if (forced_remaining_ != 0) {
            if (forced_remaining_ > 0) --forced_remaining_;
            res.status = forced_status_;
            if (!forced_retry_after_.empty()) res.set_header("Retry-After", forced_retry_after_);
            res.set_content(error_body("forced", "status forced by the test"), "application/json");
        } else if (fault_remaining_ != 0 && fault_ != Fault::None) {
            if (fault_remaining_ > 0) --fault_remaining_;
            ++faulted_;
            answer_fault_locked(fault_, record.rig_id, res, lk);
        } else {
            res.status = 200;
            const auto precision = shape_ == ResponseShape::EpochSeconds
                                       ? TokenLedger::Precision::Seconds
                                       : TokenLedger::Precision::Milliseconds;
            res.set_content(to_json(token_body(ledger_.issue(record.rig_id, precision), shape_)),
                            "application/json");
        }
        record.status = res.status;
        observer = observer_;
    }
    if (observer) observer(record);
}

bool FakeGastown::trickle_pause(std::chrono::milliseconds d, std::uint64_t generation) {
    std::unique_lock lk(mu_);
    return !cv_.wait_for(lk, d, [&] { return stopping_ || fault_generation_ != generation; });
}

void FakeGastown::answer_fault_locked(Fault fault, const std::string& rig_id,
                                      httplib::Response& res, std::unique_lock<std::mutex>& lk) {
    if (fault != Fault::Hang) {
        const auto generation = fault_generation_;
        answer_fault(
            fault, rig_id, ledger_, redirect_location_,
            [this, generation](std::chrono::milliseconds d) {
                return trickle_pause(d, generation);
            },
            res);
        return;
    }
    const auto fault_generation = fault_generation_;
    const auto release_generation = release_generation_;
    ++held_;
    cv_.notify_all();  // wait_for_held()
    cv_.wait(lk, [&] {
        return stopping_ || fault_generation_ != fault_generation ||
               release_generation_ != release_generation;
    });
    --held_;
    res.status = 503;
    res.set_content(error_body("unavailable", "hung request let go"), "application/json");
}

}  // namespace credfs::fakes
