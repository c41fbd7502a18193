#include "credfs/core/credential.hpp"

#include <string.h>  // explicit_bzero

#include <limits>

namespace credfs {

namespace {

bool is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

void wipe(const std::string& s) {
    // The string is const to its readers; wiping at the end of its life is the
    // one mutation, and it must not be optimised away.
    explicit_bzero(const_cast<char*>(s.data()), s.size());
}

}  // namespace

std::string percent_encode(std::string_view raw) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(raw.size());
    for (unsigned char c : raw) {
        if (is_unreserved(c)) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xF]);
        }
    }
    return out;
}

std::string render_store_line(const RigConfig& rig, std::string_view token) {
    return rig.protocol + "://" + percent_encode(rig.username) + ":" + percent_encode(token) + "@" +
           rig.host + "\n";
}

Credential::Credential(std::string token_in, WallTime expires, WallTime fetched,
                       std::string content_in, bool rejected_in)
    : token(std::move(token_in)),
      expires_at(expires),
      fetched_at(fetched),
      content(std::move(content_in)),
      rejected(rejected_in) {}

Credential::~Credential() {
    wipe(token);
    wipe(content);
}

double Credential::ttl_at(WallTime now) const {
    if (never_expires()) return std::numeric_limits<double>::infinity();
    return seconds_between(now, expires_at);
}

}  // namespace credfs

namespace credfs {

void Credential::mark_handed_out(WallTime now) const {
    handed_out_ns_.store(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count(),
        std::memory_order_relaxed);
}

WallTime Credential::last_handed_out() const {
    return WallTime{} + std::chrono::duration_cast<WallClock::duration>(std::chrono::nanoseconds(
                            handed_out_ns_.load(std::memory_order_relaxed)));
}

}  // namespace credfs
