#include "bench/perf/stats.h"

#include <fmt/core.h>
#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include "base/clock.h"

namespace ringlog::perf {
namespace {

constexpr double k_mib = 1024.0 * 1024.0;

double ms(uint64_t us) { return static_cast<double>(us) / 1000.0; }

volatile std::sig_atomic_t g_interrupted = 0;

void on_interrupt(int sig) {
  g_interrupted = 1;
  std::signal(sig, SIG_DFL);
}

}  // namespace

void install_interrupt_handler() {
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
}

bool interrupted() noexcept { return g_interrupted != 0; }

void shard_stats::add_error(std::string message) {
  ++errors;
  if (first_error.empty()) first_error = std::move(message);
}

run_totals report_progress(std::vector<std::unique_ptr<shard_stats>>& stats,
                           const std::atomic<bool>& done, int64_t start_ns) {
  uint64_t last_records = 0, last_bytes = 0;
  int64_t last_ns = start_ns;
  int64_t next_ns = start_ns + 1'000'000'000;
  latency_histogram interval;
  while (!done.load(std::memory_order_acquire)) {
    // Poll often so the summary follows the end of the run at once.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const int64_t now = monotonic_ns();
    if (now < next_ns) continue;
    next_ns += 1'000'000'000;
    if (next_ns <= now) next_ns = now + 1'000'000'000;
    uint64_t records = 0, bytes = 0, errors = 0;
    interval.reset();
    for (auto& s : stats) {
      std::lock_guard lock(s->mu);
      records += s->records;
      bytes += s->bytes;
      errors += s->errors;
      interval.merge(s->interval);
      s->interval.reset();
    }
    const double dt = static_cast<double>(now - last_ns) / 1e9;
    // No latency this second (e2e warm-up, an idle consumer): dashes, not 0.
    const auto latency = [&](uint64_t us) {
      return interval.count() == 0 ? std::string("       -") : fmt::format("{:8.3f}", ms(us));
    };
    fmt::print(
        stderr, "{:7.1f}s {:10.0f} records/s {:9.1f} MiB/s  p99 {} ms  max {} ms  total {}{}\n",
        static_cast<double>(now - start_ns) / 1e9, static_cast<double>(records - last_records) / dt,
        static_cast<double>(bytes - last_bytes) / k_mib / dt, latency(interval.percentile(99)),
        latency(interval.max()), records, errors ? fmt::format("  errors {}", errors) : "");
    last_records = records;
    last_bytes = bytes;
    last_ns = now;
  }
  run_totals t;
  t.seconds = static_cast<double>(monotonic_ns() - start_ns) / 1e9;
  for (auto& s : stats) {
    std::lock_guard lock(s->mu);
    t.records += s->records;
    t.bytes += s->bytes;
    t.wire_bytes += s->wire_bytes;
    t.requests += s->requests;
    t.errors += s->errors;
    if (t.first_error.empty()) t.first_error = s->first_error;
    t.latency.merge(s->total);
    t.request.merge(s->request);
  }
  return t;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20) {
      out += fmt::format("\\u{:04x}", u);
    } else {
      out += ch;
    }
  }
  out += '"';
  return out;
}

std::string percentiles_json(const latency_histogram& h) {
  static constexpr double k_ladder[] = {
      0,    10,   20,   30,   40,    50,    60,    70,    80,     90,     95,     97,     98, 99,
      99.5, 99.7, 99.8, 99.9, 99.95, 99.97, 99.98, 99.99, 99.995, 99.997, 99.998, 99.999, 100};
  std::string out = "[";
  for (const double p : k_ladder) {
    if (out.size() > 1) out += ',';
    out += fmt::format("[{},{:.3f}]", p, ms(h.percentile(p)));
  }
  out += ']';
  return out;
}

std::string latency_summary_json(const latency_histogram& h) {
  return fmt::format(R"({{"count":{},"p50":{:.3f},"p99":{:.3f},"p99_9":{:.3f},"max":{:.3f}}})",
                     h.count(), ms(h.percentile(50)), ms(h.percentile(99)),
                     ms(h.percentile(99.9)), ms(h.max()));
}

namespace {

// Empty when no request was timed (consume), else the field and a comma.
std::string request_json(const latency_histogram& r) {
  if (r.count() == 0) return {};
  return "\"request_latency_ms\":" + latency_summary_json(r) + ",";
}

}  // namespace

void print_summary(const char* mode, const run_totals& t, bool json,
                   const std::vector<summary_field>& extra) {
  const double secs = t.seconds > 0 ? t.seconds : 1e-9;
  const double rps = static_cast<double>(t.records) / secs;
  const double mibps = static_cast<double>(t.bytes) / k_mib / secs;
  const auto& h = t.latency;
  if (json) {
    std::string out = fmt::format("{{\"mode\":\"{}\"", mode);
    for (const auto& f : extra) out += fmt::format(",\"{}\":{}", f.name, f.json_value);
    out += fmt::format(
        ",\"records\":{},\"bytes\":{},\"wire_bytes\":{},\"requests\":{},\"seconds\":{:.3f},"
        "\"records_per_s\":{:.1f},\"mib_per_s\":{:.2f},\"latency_ms\":{{\"count\":{},"
        "\"p50\":{:.3f},\"p90\":{:.3f},\"p99\":{:.3f},\"p99_9\":{:.3f},\"max\":{:.3f},"
        "\"mean\":{:.3f}}},\"latency_percentiles_ms\":{},{}\"errors\":{},\"first_error\":{}}}",
        t.records, t.bytes, t.wire_bytes, t.requests, t.seconds, rps, mibps, h.count(),
        ms(h.percentile(50)), ms(h.percentile(90)), ms(h.percentile(99)), ms(h.percentile(99.9)),
        ms(h.max()), h.mean() / 1000.0, percentiles_json(h), request_json(t.request), t.errors,
        t.first_error.empty() ? "null" : json_string(t.first_error));
    std::printf("%s\n", out.c_str());
  } else {
    std::printf("%s: %llu records, %llu bytes in %.2f s\n", mode,
                static_cast<unsigned long long>(t.records),
                static_cast<unsigned long long>(t.bytes), t.seconds);
    std::printf("throughput: %.1f records/s, %.2f MiB/s (%llu requests)\n", rps, mibps,
                static_cast<unsigned long long>(t.requests));
    std::printf("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (%s)\n",
                ms(h.percentile(50)), ms(h.percentile(90)), ms(h.percentile(99)),
                ms(h.percentile(99.9)), ms(h.max()),
                std::string_view(mode) == "produce"   ? "enqueue to ack, per record"
                : std::string_view(mode) == "consume" ? "per fetch round trip"
                                                      : "enqueue to receipt, after warm-up");
    if (t.request.count() != 0) {
      const auto& r = t.request;
      std::printf("request latency ms: p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (send to response)\n",
                  ms(r.percentile(50)), ms(r.percentile(99)), ms(r.percentile(99.9)), ms(r.max()));
    }
    if (t.errors != 0) {
      std::printf("errors: %llu (first: %s)\n", static_cast<unsigned long long>(t.errors),
                  t.first_error.c_str());
    }
  }
  std::fflush(stdout);
}

}  // namespace ringlog::perf
