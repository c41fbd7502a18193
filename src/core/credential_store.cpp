#include "credfs/core/credential_store.hpp"

#include <algorithm>
#include <cctype>

namespace credfs {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

std::string percent_decode(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '%' && i + 2 < in.size()) {
            const int hi = hex_value(in[i + 1]);
            const int lo = hex_value(in[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(in[i]);
    }
    return out;
}

std::optional<StoreLineKey> parse_store_line(std::string_view line) {
    const size_t scheme_end = line.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) return std::nullopt;
    StoreLineKey key;
    key.protocol = std::string(line.substr(0, scheme_end));
    std::string_view rest = line.substr(scheme_end + 3);
    const std::string_view authority = rest.substr(0, rest.find('/'));
    const size_t at = authority.rfind('@');
    if (at != std::string_view::npos) {
        const std::string_view userinfo = authority.substr(0, at);
        const size_t colon = userinfo.find(':');
        key.username = percent_decode(userinfo.substr(0, colon));
        if (colon != std::string_view::npos)
            key.password = percent_decode(userinfo.substr(colon + 1));
    }
    // git 2.39's store helper percent-encodes the host too ("127.0.0.1%3a4300").
    key.host = percent_decode(at == std::string_view::npos ? authority : authority.substr(at + 1));
    if (key.host.empty()) return std::nullopt;
    return key;
}

StoreRewrite parse_store_rewrite(std::string_view content, const RigConfig& rig) {
    StoreRewrite out;
    size_t start = 0;
    while (start < content.size()) {
        size_t end = content.find('\n', start);
        if (end == std::string_view::npos) end = content.size();
        std::string_view line = content.substr(start, end - start);
        start = end + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
        const auto key = parse_store_line(line);
        if (key && iequals(key->protocol, rig.protocol) && iequals(key->host, rig.host) &&
            key->username == rig.username) {
            if (!out.has_managed_line) out.managed_password = key->password;
            out.has_managed_line = true;
            continue;
        }
        out.other_lines.emplace_back(line);
    }
    return out;
}

}  // namespace credfs
