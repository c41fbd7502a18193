#include "credfs/sources/static_source.hpp"

#include <fstream>
#include <sstream>

namespace credfs {

Token StaticSource::fetch(const RigConfig& rig) {
    std::ifstream in(token_file_);
    if (!in)
        throw SourceError("rig " + rig.id + ": cannot read token file \"" + token_file_ + "\"");
    std::ostringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) {
        throw SourceError("rig " + rig.id + ": token file \"" + token_file_ + "\" is empty");
    }
    s = s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
    for (unsigned char c : s) {
        if (c <= ' ' || c == 0x7f) {
            throw SourceError("rig " + rig.id + ": token file \"" + token_file_ +
                              "\" holds more than one token (whitespace or control bytes)");
        }
    }
    return Token{std::move(s), std::nullopt};
}

}  // namespace credfs
