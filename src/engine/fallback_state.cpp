#include "credfs/engine/fallback_state.hpp"

#include <openssl/evp.h>

#include <cstdio>

namespace credfs {

namespace {

constexpr std::string_view kSuffix = ".credfs-state";

std::string_view value_of(std::string_view content, std::string_view key) {
    const std::string prefix = std::string(key) + "=";
    size_t at = 0;
    while (at < content.size()) {
        size_t end = content.find('\n', at);
        if (end == std::string_view::npos) end = content.size();
        const std::string_view line = content.substr(at, end - at);
        if (line.starts_with(prefix)) return line.substr(prefix.size());
        at = end + 1;
    }
    return {};
}

}  // namespace

std::string state_file_name(const std::string& file) { return "." + file + std::string(kSuffix); }

bool is_state_file_name(std::string_view name) {
    return name.starts_with(".") && name.ends_with(kSuffix);
}

std::string token_fingerprint(std::string_view token) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(token.data(), token.size(), digest, &len, EVP_sha256(), nullptr);
    std::string hex;
    for (unsigned int i = 0; i < 16 && i < len; ++i) {
        char byte[3];
        std::snprintf(byte, sizeof byte, "%02x", digest[i]);
        hex += byte;
    }
    return hex;
}

std::string render_state(WallTime expires_at, std::string_view token) {
    const std::string expiry =
        expires_at == WallTime::max() ? std::string("never") : format_iso8601(expires_at);
    return "expires_at=" + expiry + "\nfingerprint=" + token_fingerprint(token) + "\n";
}

std::optional<WallTime> parse_state(std::string_view content, std::string_view token) {
    if (value_of(content, "fingerprint") != token_fingerprint(token)) return std::nullopt;
    return parse_iso8601(value_of(content, "expires_at"));
}

}  // namespace credfs
