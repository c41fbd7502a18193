#include "credfs/engine/wait_histogram.hpp"

#include <algorithm>
#include <numeric>

namespace credfs {

void WaitHistogram::record(double seconds) {
    seconds = std::max(seconds, 0.0);
    // The first bound >= seconds: buckets are "less than or equal".
    const auto bucket = std::lower_bound(kBounds.begin(), kBounds.end(), seconds) - kBounds.begin();
    ++counts.at(static_cast<size_t>(bucket));
    sum_s += seconds;
}

uint64_t WaitHistogram::count() const {
    return std::accumulate(counts.begin(), counts.end(), uint64_t{0});
}

}  // namespace credfs
