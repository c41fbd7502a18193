#include "fake_gastown.hpp"
#include "serve_loop.hpp"

#include <httplib.h>
#include <json/json.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <stdexcept>
#include <utility>

namespace credfs::fakes {
namespace {

constexpr char kEndpointPattern[] = R"(/api/towns/([^/]+)/rigs/([^/]+)/refresh-git-token)";
constexpr char kAlnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

std::string to_json(const Json::Value& value) {
    Json::StreamWriterBuilder builder;
    builder["indentation"] = "";
    return Json::writeString(builder, value);
}

std::string error_body(const std::string& error, const std::string& message) {
    Json::Value body;
    body["error"] = error;
    body["message"] = message;
    return to_json(body);
}

WallClock::time_point after(WallClock::time_point t, double seconds) {
    return t +
           std::chrono::duration_cast<WallClock::duration>(std::chrono::duration<double>(seconds));
}

// The answer body for `t` in `shape`.
Json::Value token_body(const IssuedToken& t, ResponseShape shape) {
    Json::Value token;
    token["token"] = t.token;
    switch (shape) {
        case ResponseShape::TopLevel:
        case ResponseShape::NestedData:
            token["expires_at"] = format_iso8601_ms(t.expires_at);
            break;
        case ResponseShape::EpochSeconds:
            token["expires_at"] = Json::Int64{
                std::chrono::duration_cast<std::chrono::seconds>(t.expires_at.time_since_epoch())
                    .count()};
            break;
        case ResponseShape::NoExpiry:
            break;
    }
    if (shape != ResponseShape::NestedData) return token;
    Json::Value body;
    body["data"] = token;
    return body;
}

constexpr std::size_t kHugeBodyBytes = std::size_t{2} << 20;
constexpr auto kTrickleByteEvery = std::chrono::seconds(1);
constexpr auto kTenYears = std::chrono::hours(24 * 3652);

}  // namespace

const char* fault_name(Fault f) {
    switch (f) {
        case Fault::None:
            return "none";
        case Fault::Hang:
            return "hang";
        case Fault::Trickle:
            return "trickle";
        case Fault::HtmlBody:
            return "html_body";
        case Fault::TruncatedJson:
            return "truncated_json";
        case Fault::HugeBody:
            return "huge_body";
        case Fault::TokenWithNewline:
            return "token_with_newline";
        case Fault::TokenWithSpace:
            return "token_with_space";
        case Fault::ExpiredAtPast:
            return "expired_at_past";
        case Fault::FarFutureExpiry:
            return "far_future_expiry";
        case Fault::Redirect:
            break;
    }
    return "redirect";
}

std::string format_iso8601_ms(WallClock::time_point t) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03dZ", date, static_cast<int>(ms % 1000));
    return out;
}

FakeGastown::FakeGastown(std::string expected_jwt, int port)
    : port_(port), expected_jwt_(std::move(expected_jwt)), rng_(std::random_device{}()) {
    std::lock_guard lifecycle(lifecycle_mu_);
    bind_and_serve();
}

FakeGastown::~FakeGastown() { stop(); }

void FakeGastown::bind_and_serve() {
    {
        std::lock_guard lk(mu_);
        stopping_ = false;
    }
    auto server = std::make_unique<httplib::Server>();
    // An idle keep-alive connection pins a worker until this timeout passes;
    // keep it short so stop() returns quickly and really drops every client.
    server->set_keep_alive_timeout(1);
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

std::string FakeGastown::base_url() const { return "http://127.0.0.1:" + std::to_string(port()); }

void FakeGastown::set_expected_jwt(std::string jwt) {
    std::lock_guard lk(mu_);
    expected_jwt_ = std::move(jwt);
}

void FakeGastown::set_ttl(double seconds) {
    std::lock_guard lk(mu_);
    ttl_s_ = seconds;
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
    token_length_ = random_chars;
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
    reissue_same_ = on;
}

void FakeGastown::revoke(const std::string& token) {
    std::lock_guard lk(mu_);
    ++revocations_;
    revoked_.push_back(token);
}

int FakeGastown::revocations() const {
    std::lock_guard lk(mu_);
    return revocations_;
}

bool FakeGastown::revoked_locked(const std::string& token) const {
    return std::find(revoked_.begin(), revoked_.end(), token) != revoked_.end();
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
    return issued_;
}

std::vector<IssuedToken> FakeGastown::issued(const std::string& rig_id) const {
    std::lock_guard lk(mu_);
    std::vector<IssuedToken> out;
    std::copy_if(issued_.begin(), issued_.end(), std::back_inserter(out),
                 [&](const IssuedToken& t) { return t.rig_id == rig_id; });
    return out;
}

bool FakeGastown::is_valid(const std::string& token) const {
    const auto now = WallClock::now();
    std::lock_guard lk(mu_);
    if (revoked_locked(token)) return false;
    return std::any_of(issued_.begin(), issued_.end(), [&](const IssuedToken& t) {
        return t.token == token && t.expires_at > now;
    });
}

std::optional<std::string> FakeGastown::current_token(const std::string& rig_id) const {
    const auto t = current(rig_id);
    if (!t) return std::nullopt;
    return t->token;
}

std::optional<IssuedToken> FakeGastown::current(const std::string& rig_id) const {
    const auto now = WallClock::now();
    std::lock_guard lk(mu_);
    for (auto it = issued_.rbegin(); it != issued_.rend(); ++it) {
        if (it->rig_id == rig_id && it->expires_at > now && !revoked_locked(it->token)) {
            return *it;
        }
    }
    return std::nullopt;
}

std::optional<IssuedToken> FakeGastown::latest(const std::string& rig_id) const {
    std::lock_guard lk(mu_);
    for (auto it = issued_.rbegin(); it != issued_.rend(); ++it) {
        if (it->rig_id == rig_id) return *it;
    }
    return std::nullopt;
}

std::vector<std::string> FakeGastown::authorizations() const {
    std::lock_guard lk(mu_);
    return authorizations_;
}

std::string FakeGastown::random_token_locked() {
    std::uniform_int_distribution<std::size_t> pick(0, sizeof kAlnum - 2);
    std::string token = "ghs_";
    for (std::size_t i = 0; i < token_length_; ++i) token += kAlnum[pick(rng_)];
    return token;
}

IssuedToken FakeGastown::issue_locked(const std::string& rig_id) {
    if (reissue_same_) {
        for (auto it = issued_.rbegin(); it != issued_.rend(); ++it) {
            if (it->rig_id == rig_id) return *it;
        }
    }
    IssuedToken t;
    t.rig_id = rig_id;
    t.token = random_token_locked();
    t.issued_at = WallClock::now();
    // Track the expiry at the precision we report it with, so is_valid()
    // agrees exactly with what the daemon was told.
    const auto expiry = after(t.issued_at, ttl_s_);
    if (shape_ == ResponseShape::EpochSeconds) {
        t.expires_at = std::chrono::time_point_cast<std::chrono::seconds>(expiry);
    } else {
        t.expires_at = std::chrono::time_point_cast<std::chrono::milliseconds>(expiry);
    }
    issued_.push_back(t);
    return t;
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
            res.set_content(to_json(token_body(issue_locked(record.rig_id), shape_)),
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
    // A new token (reissue_same_ does not apply to faults), recorded in
    // issued_ only when it is delivered well-formed and whole.
    const auto make = [&](bool record, std::optional<WallClock::time_point> expires_at = {}) {
        IssuedToken t;
        t.rig_id = rig_id;
        t.token = random_token_locked();
        t.issued_at = WallClock::now();
        t.expires_at = std::chrono::time_point_cast<std::chrono::milliseconds>(
            expires_at.value_or(after(t.issued_at, ttl_s_)));
        if (record) issued_.push_back(t);
        return t;
    };
    res.status = 200;
    switch (fault) {
        case Fault::None:
            break;
        case Fault::Hang: {
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
            return;
        }
        case Fault::Trickle: {
            auto body = std::make_shared<const std::string>(
                to_json(token_body(make(true), ResponseShape::TopLevel)));
            const auto generation = fault_generation_;
            res.set_chunked_content_provider(
                "application/json",
                [this, body, generation](std::size_t offset, httplib::DataSink& sink) {
                    if (offset >= body->size()) {
                        sink.done();
                        return true;
                    }
                    // One byte now, then one a second: bounded by the body's
                    // length, the client going away, stop() and set_fault().
                    if (offset > 0 && !trickle_pause(kTrickleByteEvery, generation)) return false;
                    return sink.write(body->data() + offset, 1);
                });
            return;
        }
        case Fault::HtmlBody:
            res.set_content(
                "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>"
                "<body><h1>Network login required</h1></body></html>\n",
                "text/html");
            return;
        case Fault::TruncatedJson: {
            const std::string full = to_json(token_body(make(false), ResponseShape::TopLevel));
            res.set_content(full.substr(0, full.size() / 2), "application/json");
            return;
        }
        case Fault::HugeBody: {
            Json::Value body = token_body(make(true), ResponseShape::TopLevel);
            body["padding"] = std::string(kHugeBodyBytes, 'x');
            res.set_content(to_json(body), "application/json");
            return;
        }
        case Fault::TokenWithNewline:
        case Fault::TokenWithSpace: {
            IssuedToken t = make(false);  // malformed: nobody can use it
            t.token += fault == Fault::TokenWithSpace
                           ? std::string(" forged")
                           : std::string("\nhttps://x-access-token:forged@evil.example");
            res.set_content(to_json(token_body(t, ResponseShape::TopLevel)), "application/json");
            return;
        }
        case Fault::ExpiredAtPast:
            res.set_content(
                to_json(token_body(make(true, WallClock::now() - std::chrono::minutes(1)),
                                   ResponseShape::TopLevel)),
                "application/json");
            return;
        case Fault::FarFutureExpiry:
            res.set_content(to_json(token_body(make(true, WallClock::now() + kTenYears),
                                               ResponseShape::TopLevel)),
                            "application/json");
            return;
        case Fault::Redirect:
            res.set_redirect(redirect_location_, 302);
            res.set_content(error_body("moved", "see Location"), "application/json");
            return;
    }
}

}  // namespace credfs::fakes
