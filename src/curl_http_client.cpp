#include <curl/curl.h>

#include <cmath>
#include <memory>

#include "credfs/http_client.hpp"

namespace credfs {

namespace {

constexpr size_t kMaxBody = 1 << 20;

size_t append_body(char* data, size_t size, size_t count, void* user) {
    auto* body = static_cast<std::string*>(user);
    const size_t n = size * count;
    if (body->size() + n > kMaxBody) return 0;  // makes curl fail with CURLE_WRITE_ERROR
    body->append(data, n);
    return n;
}

struct CurlDeleter {
    void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

long millis(double seconds) { return std::lround(seconds * 1000.0); }

}  // namespace

HttpResponse CurlHttpClient::post(const HttpRequest& request) {
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) throw HttpError("POST " + request.url + ": curl_easy_init failed");
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    for (const auto& h : request.headers) {
        curl_slist* next = curl_slist_append(headers.get(), h.c_str());
        if (next == nullptr) throw HttpError("POST " + request.url + ": out of memory");
        (void)headers.release();
        headers.reset(next);
    }
    HttpResponse response;
    CURL* h = curl.get();
    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM-based DNS timeouts
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, millis(request.connect_timeout_s));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, millis(request.timeout_s));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "gastown-credfs/" CREDFS_VERSION);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!request.ca_bundle.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, request.ca_bundle.c_str());
    const CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        const std::string why =
            rc == CURLE_WRITE_ERROR ? "response body over 1 MiB" : curl_easy_strerror(rc);
        throw HttpError("POST " + request.url + ": " + why);
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

}  // namespace credfs
