// The upstream response parser: bodies from the control plane (and, through
// the same parser, exec plugins), plus the JWT expiry decoder. Any input must
// yield a token with a sane value or throw SourceError.
#include <cstddef>
#include <cstdint>
#include <string>

#include "credfs/core/clock.hpp"
#include "credfs/sources/gastown_source.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string body(reinterpret_cast<const char*>(data), size);
    const credfs::WallTime now = credfs::WallTime{} + std::chrono::seconds(1'800'000'000);
    try {
        const credfs::Token token = credfs::parse_gastown_response(body, now);
        // A served token goes into a credential-store line: it may not be
        // empty or carry bytes that would break or forge the line.
        if (token.value.empty()) __builtin_trap();
        for (const char c : token.value) {
            if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) __builtin_trap();
        }
        if (token.expires_at && *token.expires_at <= now) __builtin_trap();
    } catch (const credfs::SourceError&) {
    }
    (void)credfs::jwt_expiry(body);
    return 0;
}
