#include <curl/curl.h>

#include <cctype>
#include <cmath>
#include <memory>

#include "credfs/sources/http_client.hpp"

namespace credfs {

namespace {

constexpr size_t kMaxBody = 1 << 20;

struct BodySink {
    std::string* body = nullptr;
    bool too_big = false;
};

size_t append_body(char* data, size_t size, size_t count, void* user) {
    auto* sink = static_cast<BodySink*>(user);
    const size_t n = size * count;
    if (sink->body->size() + n > kMaxBody) {
        sink->too_big = true;
        return 0;  // makes curl fail with CURLE_WRITE_ERROR
    }
    sink->body->append(data, n);
    return n;
}

size_t collect_header(char* data, size_t size, size_t count, void* user) {
    auto* headers = static_cast<std::map<std::string, std::string>*>(user);
    const std::string line(data, size * count);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        const size_t first = value.find_first_not_of(" \t");
        const size_t last = value.find_last_not_of(" \t\r\n");
        (*headers)[name] = first == std::string::npos ? "" : value.substr(first, last - first + 1);
    }
    return size * count;
}

struct CurlDeleter {
    void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

long millis(double seconds) { return std::lround(seconds * 1000.0); }

}  // namespace

HttpResponse CurlHttpClient::send(const HttpRequest& request) {
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    const std::string what = request.method + " " + request.url;
    if (!curl) throw HttpError(what + ": curl_easy_init failed");
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    for (const auto& h : request.headers) {
        curl_slist* next = curl_slist_append(headers.get(), h.c_str());
        if (next == nullptr) throw HttpError(what + ": out of memory");
        (void)headers.release();
        headers.reset(next);
    }
    HttpResponse response;
    BodySink sink{&response.body};
    char detail[CURL_ERROR_SIZE] = "";
    CURL* h = curl.get();
    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM-based DNS timeouts
    if (request.method == "POST") {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.c_str());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
    } else if (request.method != "GET") {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, millis(request.connect_timeout_s));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, millis(request.timeout_s));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    // A Content-Length over the cap fails before the body is read at all.
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(kMaxBody));
    // Never follow a redirect: it would carry the bearer token (a header we
    // set) to wherever the Location says. A 3xx is returned as is.
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &response.headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "gastown-credfs/" CREDFS_VERSION);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!request.ca_bundle.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, request.ca_bundle.c_str());
    const CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        std::string why;
        if (sink.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
            why = "response body over 1 MiB, refused";
        } else {
            // curl's own words first ("Operation timed out after 1001
            // milliseconds with 7 bytes received", "Failed to connect to
            // 127.0.0.1 port 9 ...: Connection refused"): they name the fault.
            why = curl_easy_strerror(rc);
            const std::string said = detail;
            if (!said.empty() && said.find(why) == std::string::npos) {
                why = said + " (" + why + ")";
            } else if (!said.empty()) {
                why = said;
            }
        }
        throw HttpError(what + ": " + why);
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

}  // namespace credfs
