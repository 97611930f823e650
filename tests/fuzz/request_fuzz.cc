// libFuzzer entry for net/protocol: arbitrary bytes as a request frame after
// its size field, through the request header decoder and then the body
// decoder of the API and version the header names (request and response
// types both: responses are decoded by the load generator and tests).
//
// Beyond "no crash, no leak, no huge allocation" (the reader bounds every
// count by the bytes left), a body that decodes must survive a round trip:
// encoding it must not assert (a decoded value is always writable in the same
// version), and encode(decode(encode(x))) must equal encode(x). The first
// encoding may differ from the input (unknown tags dropped, non-canonical
// bools), the second may not.
//
// A header naming an API or version we do not declare is not the end: the
// first two bytes of the rest then pick an API and version from the table, so
// random inputs reach every body decoder.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "net/protocol/api/all.h"
#include "net/protocol/api/api_table.h"
#include "net/protocol/api/request_header.h"
#include "net/protocol/wire.h"

namespace {

using namespace ringlog::protocol;

template <class M>
void check(std::span<std::byte> body, int16_t version) {
  wire_reader r(body);
  M m;
  m.decode(r, version);
  if (!r.ok()) {
    if (r.error_message().empty()) __builtin_trap();
    return;
  }
  wire_writer w(false);
  m.encode(w, version);
  std::vector<std::byte> once = w.memory();
  wire_reader r2(once);
  M again;
  again.decode(r2, version);
  if (!r2.ok() || r2.remaining() != 0) __builtin_trap();
  wire_writer w2(false);
  again.encode(w2, version);
  if (w2.memory() != once) __builtin_trap();
}

void decode_body(int16_t key, int16_t version, std::span<std::byte> body) {
  // Each check gets its own copy: view-mode decoding keeps pointers into it.
  std::vector<std::byte> a(body.begin(), body.end());
  std::vector<std::byte> b(body.begin(), body.end());
  switch (key) {
#define RINGLOG_FUZZ_CASE(api)         \
  case api##_request::api_key:         \
    check<api##_request>(a, version);  \
    check<api##_response>(b, version); \
    break;
    RINGLOG_PROTOCOL_FOR_EACH_API(RINGLOG_FUZZ_CASE)
#undef RINGLOG_FUZZ_CASE
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::byte> frame(reinterpret_cast<const std::byte*>(data),
                               reinterpret_cast<const std::byte*>(data) + size);
  wire_reader r(frame);
  request_header header;
  if (!decode_request_header(r, header)) {
    if (r.error_message().empty()) __builtin_trap();
    return 0;
  }
  std::span<std::byte> body = std::span<std::byte>(frame).subspan(r.position());
  const api_spec* api = find_api(header.api_key);
  if (api != nullptr && header.api_version >= api->min_version &&
      header.api_version <= api->max_version) {
    decode_body(header.api_key, header.api_version, body);
    return 0;
  }
  if (body.size() < 2) return 0;
  const auto apis = declared_apis();
  const api_spec& pick = apis[static_cast<uint8_t>(body[0]) % apis.size()];
  const int versions = pick.max_version - pick.min_version + 1;
  const auto version =
      static_cast<int16_t>(pick.min_version + static_cast<uint8_t>(body[1]) % versions);
  decode_body(pick.key, version, body.subspan(2));
  return 0;
}
