// How ringlog-dump shows record keys, values and headers: as escaped UTF-8
// text or as hex, cut to --max-bytes. Bytes in a log are arbitrary, so every
// rendering is unambiguous and stays on one line:
//
//   text, utf8  "caf\xe9 \"au\" lait\n"...   quoted; \" \\ \n \r \t; \xNN for any
//               byte that is a control character or not valid UTF-8; valid
//               multi-byte characters as they are; ... after the quote when cut
//   text, hex   636166e9...                 lowercase pairs; ... when cut
//   null        null                         (distinct from "" / empty hex)
//   JSON        "key": string or null, "keyEncoding": "utf8" | "hex",
//               "keyTruncated": bool. In utf8 mode a field whose (cut) bytes
//               are not valid UTF-8 is written as hex with "keyEncoding":
//               "hex", so JSON output never loses a byte.
//
// A cut in utf8 mode never splits a character: it backs off to the start of a
// sequence that would cross max_bytes.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ringlog::dump {

class json_object;

enum class value_encoding { utf8, hex };

// The length (2..4) of the valid UTF-8 multi-byte sequence starting at
// bytes[i], 1 for an ASCII byte, or 0 when the bytes there are not valid UTF-8
// (stray continuation, overlong form, surrogate, above U+10FFFF, truncated).
size_t utf8_sequence_length(std::span<const std::byte> bytes, size_t i) noexcept;
bool is_valid_utf8(std::span<const std::byte> bytes) noexcept;

// How many leading bytes to print: all when max_bytes is 0 or enough, else
// max_bytes, backed off in utf8 mode to a character boundary.
size_t cut_length(std::span<const std::byte> bytes, value_encoding encoding,
                  size_t max_bytes) noexcept;

// The escaped text of `bytes` (no quotes, no cut), as described above.
std::string escape_text(std::span<const std::byte> bytes);
std::string to_hex(std::span<const std::byte> bytes);

// The text-mode rendering of a possibly-null field.
std::string render_text(const std::optional<std::span<const std::byte>>& bytes,
                        value_encoding encoding, size_t max_bytes);
// A string that is never null (a header key): quoted escaped text, cut.
std::string render_text_key(std::string_view key, size_t max_bytes);

// Adds `field`, `field`Encoding and `field`Truncated to a JSON object.
void add_json_bytes(json_object& object, std::string_view field,
                    const std::optional<std::span<const std::byte>>& bytes, value_encoding encoding,
                    size_t max_bytes);

}  // namespace ringlog::dump
