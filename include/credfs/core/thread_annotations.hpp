// Clang's thread-safety analysis (-Wthread-safety, set in CMakeLists.txt when
// the compiler is clang): members say which mutex guards them and functions
// which mutex they need, and the compiler rejects an access without it. On
// other compilers the macros are empty. The names follow clang's
// documentation (as s3fs-fuse's do).
#pragma once

#include <mutex>

#if defined(__clang__)
#define CREDFS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define CREDFS_THREAD_ANNOTATION(x)
#endif

#define CREDFS_CAPABILITY(x) CREDFS_THREAD_ANNOTATION(capability(x))
#define CREDFS_SCOPED_CAPABILITY CREDFS_THREAD_ANNOTATION(scoped_lockable)
#define CREDFS_GUARDED_BY(x) CREDFS_THREAD_ANNOTATION(guarded_by(x))
#define CREDFS_PT_GUARDED_BY(x) CREDFS_THREAD_ANNOTATION(pt_guarded_by(x))
#define CREDFS_REQUIRES(...) CREDFS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define CREDFS_EXCLUDES(...) CREDFS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define CREDFS_ACQUIRE(...) CREDFS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define CREDFS_RELEASE(...) CREDFS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define CREDFS_NO_THREAD_SAFETY_ANALYSIS CREDFS_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace credfs {

/// std::mutex as a capability the analysis knows. Not recursive.
class CREDFS_CAPABILITY("mutex") Mutex {
  public:
    void lock() CREDFS_ACQUIRE() { mu_.lock(); }
    void unlock() CREDFS_RELEASE() { mu_.unlock(); }
    /// The std::mutex, for std::condition_variable: wait through a
    /// std::unique_lock that adopts it (std::adopt_lock) while a MutexLock
    /// holds it, and release() that unique_lock before it goes out of scope.
    std::mutex& native() { return mu_; }

  private:
    std::mutex mu_;
};

/// Holds a Mutex for its scope.
class CREDFS_SCOPED_CAPABILITY MutexLock {
  public:
    explicit MutexLock(Mutex& mu) CREDFS_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
    ~MutexLock() CREDFS_RELEASE() { mu_.unlock(); }
    MutexLock(const MutexLock&) = delete;
    MutexLock& operator=(const MutexLock&) = delete;

  private:
    Mutex& mu_;
};

}  // namespace credfs
