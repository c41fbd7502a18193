// The credential-store content parser used when git renames a rewrite over a
// rig file. Kept lines are written back into the file and the fallback file,
// so none may carry a line break (it would forge a second credential).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "credfs/core/credential_store.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view content(reinterpret_cast<const char*>(data), size);
    credfs::RigConfig rig;
    rig.id = rig.file = "rig-a";
    const credfs::StoreRewrite rewrite = credfs::parse_store_rewrite(content, rig);
    for (const auto& line : rewrite.other_lines) {
        if (line.empty() || line.find('\n') != std::string::npos) __builtin_trap();
        if (content.find(line) == std::string_view::npos) __builtin_trap();
    }
    if (rewrite.managed_password && !rewrite.has_managed_line) __builtin_trap();
    const size_t eol = content.find('\n');
    (void)credfs::parse_store_line(content.substr(0, eol));
    (void)credfs::percent_decode(content);
    return 0;
}
