#include "basic_auth.hpp"

#include "trim.hpp"

#include <strings.h>

#include <string_view>

namespace credfs::fakes {
namespace {

std::string base64_decode(const std::string& in, bool& ok) {
    static const std::string kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    unsigned int acc = 0;
    int bits = 0;
    std::size_t i = 0;
    for (; i < in.size() && in[i] != '='; ++i) {
        const auto pos = kAlphabet.find(in[i]);
        if (pos == std::string::npos) {
            ok = false;
            return {};
        }
        acc = (acc << 6) | static_cast<unsigned int>(pos);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    // Only padding may follow, and the total must be whole quads.
    for (; i < in.size(); ++i) {
        if (in[i] != '=') {
            ok = false;
            return {};
        }
    }
    ok = in.size() % 4 == 0;
    return out;
}

}  // namespace

std::optional<BasicCredentials> parse_basic_authorization(const std::string& header) {
    constexpr std::string_view kBasic = "Basic ";
    if (header.size() <= kBasic.size() || strncasecmp(header.c_str(), "Basic ", 6) != 0) {
        return std::nullopt;
    }
    bool ok = true;
    const std::string decoded = base64_decode(trim(header.substr(kBasic.size())), ok);
    const auto colon = decoded.find(':');
    if (!ok || colon == std::string::npos) return std::nullopt;
    return BasicCredentials{decoded.substr(0, colon), decoded.substr(colon + 1)};
}

}  // namespace credfs::fakes
