#include "gastown_answers.hpp"

#include <httplib.h>
#include <json/json.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <utility>

namespace credfs::fakes {
namespace {

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

void answer_fault(Fault fault, const std::string& rig_id, TokenLedger& ledger,
                  const std::string& redirect_location, TricklePause pause,
                  httplib::Response& res) {
    const auto make = [&](bool record, std::optional<WallClock::time_point> expires_at = {}) {
        return ledger.mint(rig_id, record, expires_at);
    };
    res.status = 200;
    switch (fault) {
        case Fault::None:
        case Fault::Hang:  // FakeGastown blocks the request itself
            break;
        case Fault::Trickle: {
            auto body = std::make_shared<const std::string>(
                to_json(token_body(make(true), ResponseShape::TopLevel)));
            res.set_chunked_content_provider(
                "application/json",
                [body, pause = std::move(pause)](std::size_t offset, httplib::DataSink& sink) {
                    if (offset >= body->size()) {
                        sink.done();
                        return true;
                    }
                    // One byte now, then one a second: bounded by the body's
                    // length, the client going away, stop() and set_fault().
                    if (offset > 0 && !pause(kTrickleByteEvery)) return false;
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
            res.set_redirect(redirect_location, 302);
            res.set_content(error_body("moved", "see Location"), "application/json");
            return;
    }
}

}  // namespace credfs::fakes
