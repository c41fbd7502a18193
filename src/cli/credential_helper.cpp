#include "credfs/cli/credential_helper.hpp"

#include <string_view>

#include "credfs/helper/credential_protocol.hpp"
#include "credfs/helper/helper_client.hpp"

namespace credfs {

namespace {

/// git's request: lines up to a blank one or EOF; one byte past the cap so
/// the parser can say it is too long.
std::string read_request(std::FILE* in) {
    std::string text;
    for (int c; text.size() <= kMaxCredentialInput && (c = std::fgetc(in)) != EOF;) {
        text += static_cast<char>(c);
        if (c == '\n' && (text.size() == 1 || text.ends_with("\n\n") || text.ends_with("\n\r\n"))) {
            break;
        }
    }
    return text;
}

void complain(std::FILE* err, std::string_view what) {
    std::fprintf(err, "gastown-credfs credential-helper: %.*s\n", static_cast<int>(what.size()),
                 what.data());
}

/// The answer's first line when it is the daemon's "error=..." line.
std::string_view daemon_error(std::string_view answer) {
    if (!answer.starts_with("error=")) return {};
    answer.remove_prefix(6);
    return answer.substr(0, answer.find('\n'));
}

}  // namespace

int run_credential_helper(const CredentialHelperOptions& options, std::FILE* in, std::FILE* out,
                          std::FILE* err) {
    const std::string text = read_request(in);
    // git may add actions; its own helpers ignore those they do not know.
    // store: the daemon owns the token, nothing to keep.
    if (options.action != "get" && options.action != "erase") return 0;
    const ParsedAttributes parsed = parse_credential_attributes(text);
    if (!parsed.error.empty()) {
        complain(err, "bad request from git: " + parsed.error);
        return 0;
    }
    const auto attributes = render_credential_attributes(parsed.attributes);
    if (!attributes) return 0;  // unreachable: parsed values hold no newline or NUL
    const DaemonAnswer answer =
        ask_daemon(options.socket, options.action + " " + options.rig + "\n" + *attributes + "\n");
    if (answer.outcome == DaemonAnswer::Outcome::NoDaemon) return 0;
    if (answer.outcome == DaemonAnswer::Outcome::Failed) {
        complain(err, answer.error);
        return 0;
    }
    if (const std::string_view e = daemon_error(answer.text); !e.empty()) {
        complain(err, std::string("daemon: ") + std::string(e));
        return 0;
    }
    if (options.action != "get" || answer.text.empty()) return 0;
    const ParsedAttributes credential = parse_credential_attributes(answer.text);
    const auto rendered = credential.error.empty()
                              ? render_credential_attributes(credential.attributes)
                              : std::nullopt;
    if (!rendered) {
        complain(err, "the daemon's answer is not a credential");
        return 0;
    }
    std::fputs(rendered->c_str(), out);
    return 0;
}

}  // namespace credfs
