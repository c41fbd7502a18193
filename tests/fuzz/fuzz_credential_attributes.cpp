// git's credential attributes as the helper's socket receives them, from any
// process of the daemon's uid. What is parsed is rendered back to git, so a
// value must never carry a line break or a NUL (it would forge an attribute),
// and an accepted request must render.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "credfs/helper/credential_protocol.hpp"

namespace {

bool forges_a_line(const std::string& value) {
    return value.find('\n') != std::string::npos || value.find('\0') != std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const credfs::ParsedAttributes parsed = credfs::parse_credential_attributes(text);
    if (!parsed.error.empty()) {
        if (parsed.error.find('\n') != std::string::npos) __builtin_trap();  // one line
        return 0;
    }
    const credfs::CredentialAttributes& a = parsed.attributes;
    for (const std::string* v : {&a.protocol, &a.host, &a.path, &a.username, &a.password}) {
        if (forges_a_line(*v)) __builtin_trap();
    }
    if (!credfs::render_credential_attributes(a)) __builtin_trap();
    (void)credfs::same_host(a.host, "github.com");
    return 0;
}
