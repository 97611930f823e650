// ringlog-admin: consumer-group administration over the Kafka protocol.
// main only hands argv to admin::run (admin.h), which the tests drive too.
#include <iostream>
#include <string_view>
#include <vector>

#include "tools/admin/admin.h"

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  const int status = ringlog::admin::run(args, std::cout, std::cerr);
  std::cout.flush();
  return status;
}
