// The one whitespace trim the fakes share (header values, CGI headers, git's
// output).
#pragma once

#include <string>

namespace credfs::fakes {

/// `s` without leading and trailing spaces, tabs, CRs and LFs.
inline std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    const auto e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace credfs::fakes
