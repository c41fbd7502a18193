#include "credfs/cli/remote_url.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace credfs {

namespace {

constexpr std::string_view kMask = "***";

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) ==
               std::tolower(static_cast<unsigned char>(y));
    });
}

}  // namespace

bool looks_like_token(std::string_view s) {
    static constexpr std::array<std::string_view, 6> kPrefixes = {"ghp_", "gho_", "ghu_",
                                                                  "ghs_", "ghr_", "github_pat_"};
    for (const auto prefix : kPrefixes) {
        if (s.starts_with(prefix)) return true;
    }
    return s.size() >= 20 && std::all_of(s.begin(), s.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
           });
}

std::optional<EmbeddedCredential> find_embedded_credential(std::string_view url) {
    const size_t scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return std::nullopt;  // scp-style SSH, paths
    const std::string_view scheme = url.substr(0, scheme_end);
    if (!iequals(scheme, "https") && !iequals(scheme, "http")) return std::nullopt;
    const std::string_view rest = url.substr(scheme_end + 3);
    // The authority ends at the first '/', '?' or '#' (RFC 3986, 3.2).
    const size_t authority_end = std::min(rest.find_first_of("/?#"), rest.size());
    const std::string_view authority = rest.substr(0, authority_end);
    const std::string_view after = rest.substr(authority_end);
    const size_t at = authority.rfind('@');
    if (at == std::string_view::npos) return std::nullopt;
    const std::string_view userinfo = authority.substr(0, at);
    const std::string_view host = authority.substr(at + 1);
    const std::string prefix = std::string(scheme) + "://";

    EmbeddedCredential found;
    found.clean = prefix + std::string(host) + std::string(after);
    if (const size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
        const std::string_view user = userinfo.substr(0, colon);
        if (userinfo.size() == colon + 1) return std::nullopt;  // "user:@": no secret
        const std::string shown_user =
            looks_like_token(user) ? std::string(kMask) : std::string(user);
        found.masked = prefix + shown_user + ":" + std::string(kMask) + "@" + std::string(host) +
                       std::string(after);
        return found;
    }
    if (!looks_like_token(userinfo)) return std::nullopt;
    found.masked = prefix + std::string(kMask) + "@" + std::string(host) + std::string(after);
    return found;
}

}  // namespace credfs
