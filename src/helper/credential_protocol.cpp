#include "credfs/helper/credential_protocol.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "credfs/core/credential_store.hpp"

namespace credfs {

namespace {

/// "proto://[user[:password]@]host[/path]" into `a`; false when no "://".
bool apply_url(std::string_view url, CredentialAttributes& a) {
    const size_t scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) return false;
    a.protocol = std::string(url.substr(0, scheme_end));
    std::string_view rest = url.substr(scheme_end + 3);
    const size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    a.path.clear();
    if (slash != std::string_view::npos) {
        std::string_view path = rest.substr(slash + 1);
        while (!path.empty() && path.back() == '/') path.remove_suffix(1);
        a.path = percent_decode(path);
    }
    if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
        const std::string_view userinfo = authority.substr(0, at);
        const size_t colon = userinfo.find(':');
        a.username = percent_decode(userinfo.substr(0, colon));
        if (colon != std::string_view::npos)
            a.password = percent_decode(userinfo.substr(colon + 1));
        authority = authority.substr(at + 1);
    }
    a.host = percent_decode(authority);
    return true;
}

/// One "key=value" line into `a`; an error message, or empty.
std::string apply_line(std::string_view key, std::string_view value, CredentialAttributes& a) {
    if (key == "protocol") {
        a.protocol = value;
    } else if (key == "host") {
        a.host = value;
    } else if (key == "path") {
        a.path = value;
    } else if (key == "username") {
        a.username = value;
    } else if (key == "password") {
        a.password = value;
    } else if (key == "password_expiry_utc") {
        std::int64_t t = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), t);
        if (ec != std::errc() || end != value.data() + value.size()) {
            return "password_expiry_utc is not a number of seconds";
        }
        a.password_expiry_utc = t;
    } else if (key == "url") {
        if (!apply_url(value, a)) return "url is not a URL (no \"://\")";
    }
    return "";
}

}  // namespace

ParsedAttributes parse_credential_attributes(std::string_view text) {
    ParsedAttributes out;
    if (text.size() > kMaxCredentialInput) {
        out.error = "request longer than " + std::to_string(kMaxCredentialInput / 1024) + " KiB";
        return out;
    }
    if (text.find('\0') != std::string_view::npos) {
        out.error = "request holds a NUL byte";
        return out;
    }
    int number = 0;
    while (!text.empty()) {
        ++number;
        const size_t eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) break;
        const size_t eq = line.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            out.error = "line " + std::to_string(number) +
                        (eq == 0 ? " has an empty key" : " is not key=value");
            return out;
        }
        if (std::string e = apply_line(line.substr(0, eq), line.substr(eq + 1), out.attributes);
            !e.empty()) {
            out.error = "line " + std::to_string(number) + ": " + e;
            return out;
        }
    }
    return out;
}

std::optional<std::string> render_credential_attributes(const CredentialAttributes& a) {
    std::string out;
    const auto add = [&out](const char* key, const std::string& value) {
        if (value.empty()) return true;
        if (value.find_first_of(std::string_view("\n\0", 2)) != std::string::npos) return false;
        out.append(key).append("=").append(value).append("\n");
        return true;
    };
    if (!add("protocol", a.protocol) || !add("host", a.host) || !add("path", a.path) ||
        !add("username", a.username) || !add("password", a.password)) {
        return std::nullopt;
    }
    if (a.password_expiry_utc) add("password_expiry_utc", std::to_string(*a.password_expiry_utc));
    return out;
}

bool same_host(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace credfs
