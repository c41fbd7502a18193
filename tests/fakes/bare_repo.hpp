// The e2e tests' fixture repository, served by GitHttpServer.
#pragma once

#include <string>

namespace credfs::fakes {

/// Creates a bare repository at `path` whose branch `main` holds one commit
/// (a README), configured for pushes over HTTP (http.receivepack) and with
/// automatic gc off, so concurrent pushes never trigger a repack. Throws
/// std::runtime_error, carrying git's stderr, on failure.
void create_bare_repo(const std::string& path);

}  // namespace credfs::fakes
