// ringlog-perf: a Kafka-protocol load generator on Ringlog's io_uring runtime.
// It speaks the protocol with the project's own codecs, so it measures any
// Kafka-compatible broker. main parses the arguments and hands over to the
// command (produce.h, consume.h, e2e.h); see options.cc for the flags.
#include <cstdio>
#include <string_view>
#include <vector>

#include "bench/perf/consume.h"
#include "bench/perf/e2e.h"
#include "bench/perf/options.h"
#include "bench/perf/produce.h"
#include "bench/perf/stats.h"

int main(int argc, char** argv) {
  using namespace ringlog::perf;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  const parse_result parsed = parse_args(args);
  if (!parsed.ok()) {
    const command cmd = parsed.options.cmd;
    std::fprintf(stderr, "ringlog-perf: %s\nRun 'ringlog-perf%s --help' for usage.\n",
                 parsed.error.c_str(),
                 cmd == command::produce   ? " produce"
                 : cmd == command::consume ? " consume"
                 : cmd == command::e2e     ? " e2e"
                                           : "");
    return 2;
  }
  const perf_options& o = parsed.options;
  if (o.help) {
    const std::string_view text = help_text(o.cmd);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  install_interrupt_handler();
  switch (o.cmd) {
    case command::produce:
      return run_produce(o);
    case command::consume:
      return run_consume(o);
    case command::e2e:
      return run_e2e(o);
    case command::none:
      break;
  }
  return 2;
}
