// What the fuzz targets that read through a file (checkpoint_fuzz,
// config_fuzz) share: one scratch file per process, written for every input,
// so the product's own file readers are what the fuzzer drives.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace ringlog::fuzz {

// A file name made once per process from `stem`; the file is rewritten and
// removed again for every input (so that no run, however it ends, leaves
// more than one file behind); in /dev/shm when it exists (no disk writes),
// else TMPDIR.
inline std::string make_scratch_path(std::string_view stem) {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (tmp != nullptr ? tmp : "/tmp");
  std::string p = dir + "/" + std::string(stem) + "_XXXXXX";
  const int fd = ::mkstemp(p.data());
  if (fd < 0) std::abort();
  ::close(fd);
  return p;
}

inline bool write_file(const std::string& path, std::string_view data) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = data.empty() || std::fwrite(data.data(), 1, data.size(), f) == data.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace ringlog::fuzz
