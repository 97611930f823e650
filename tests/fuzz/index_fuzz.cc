// libFuzzer target for the segment index readers: arbitrary bytes as an
// .index and a .timeindex file. Opening, entry counting (the trailing-zeros
// binary search), sanity_check/verify, lookups, truncation and trim must never
// crash or read outside the mapping, whatever the file holds. Recovery and
// ringlog-dump open exactly such files after a crash or disk corruption.
//
// The first 8 bytes of the input pick the base offset and lookup targets; the
// whole input is the file (so sizes that are not whole entries are covered).
//
// Build (clang): clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined
//   -I. tests/fuzz/index_fuzz.cc engine/log/{errc,index_file,offset_index,
//   time_index}.cc base/{error,log}.cc -lfmt -lspdlog
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/log/index_file.h"
#include "engine/log/offset_index.h"
#include "engine/log/time_index.h"

namespace {

using ringlog::storage::index_access;
using ringlog::storage::offset_index;
using ringlog::storage::time_index;

// One scratch file per process, rewritten for every input.
const std::string& scratch_path() {
  static const std::string path = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string p = std::string(tmp != nullptr ? tmp : "/tmp") + "/ringlog_index_fuzz_XXXXXX";
    const int fd = ::mkstemp(p.data());
    if (fd < 0) std::abort();
    ::close(fd);
    // Removed when the fuzzer exits, so runs leave no scratch files behind.
    std::atexit([] { ::unlink(scratch_path().c_str()); });
    return p;
  }();
  return path;
}

bool write_file(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = size == 0 || std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && ok;
}

uint64_t read_u64(const uint8_t* data, size_t size) {
  uint64_t v = 0;
  std::memcpy(&v, data, size < 8 ? size : 8);
  return v;
}

template <class Index>
void exercise(Index& idx, uint64_t seed) {
  (void)idx.sanity_check();
  (void)idx.verify();
  (void)idx.last_entry();
  for (size_t i = 0; i < idx.entries() && i < 4; ++i) (void)idx.entry(i);
  // Targets around the edges and a few derived from the input.
  const int64_t base = idx.base_offset();
  const int64_t targets[] = {INT64_MIN, -1, 0, base, base + 1,
                             static_cast<int64_t>(seed), static_cast<int64_t>(seed >> 17),
                             base + static_cast<int64_t>(seed & 0xffff), INT64_MAX};
  for (int64_t t : targets) (void)idx.lookup(t);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = scratch_path();
  const uint64_t seed = read_u64(data, size);
  // Base offsets stay in the range open() accepts (base + int32 must fit).
  const int64_t base = static_cast<int64_t>(seed % (uint64_t{1} << 40));

  // Read-only: what recovery and the dump tool do with an unknown file.
  if (!write_file(path, data, size)) return 0;
  if (auto idx = offset_index::open(path, base, 0, index_access::read_only)) exercise(*idx, seed);
  if (auto idx = time_index::open(path, base, 0, index_access::read_only)) exercise(*idx, seed);

  // Read-write on the same bytes (the active segment after a crash): open
  // extends the file, then truncation and trim rewrite it.
  const size_t max_bytes = 4096;
  if (auto idx = offset_index::open(path, base, max_bytes, index_access::read_write)) {
    exercise(*idx, seed);
    idx->truncate_to(base + static_cast<int64_t>(seed % 64));
    (void)idx->trim();
    exercise(*idx, seed);
  }
  if (!write_file(path, data, size)) return 0;
  if (auto idx = time_index::open(path, base, max_bytes, index_access::read_write)) {
    exercise(*idx, seed);
    idx->truncate_to(base + static_cast<int64_t>(seed % 64));
    (void)idx->trim();
    exercise(*idx, seed);
  }
  return 0;
}
