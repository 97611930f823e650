// ringlog-dump: prints and checks a partition's files (segments, indexes,
// checkpoints). Everything but argv handling lives in the ringlog_dump
// library (dump.h), which the tests call directly.
#include <iostream>
#include <string>
#include <vector>

#include "tools/dump/dump.h"

int main(int argc, char** argv) {
  // Output can be millions of lines; stdio sync would cost a lock per write.
  std::ios::sync_with_stdio(false);
  const std::vector<std::string> args(argv + 1, argv + argc);
  const int status = ringlog::dump::run(args, std::cout, std::cerr);
  std::cout.flush();
  return status;
}
