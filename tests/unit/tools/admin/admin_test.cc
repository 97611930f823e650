// ringlog-admin's pure parts: argument parsing (every bad input gives a
// message and exit status 2 in main) and the consumer assignment decoder.
#include "tools/admin/admin.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <sstream>
#include <string_view>
#include <vector>

#include "tools/admin/assignment.h"
#include "tools/admin/options.h"

namespace ringlog::admin {
namespace {

parse_result parse(std::vector<std::string_view> args) { return parse_args(args); }

TEST(admin_args, describe_parses_bootstrap_group_and_json) {
  const auto r = parse({"--bootstrap", "localhost:9092", "--json", "groups", "describe", "g1"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.options.cmd, command::groups_describe);
  EXPECT_EQ(r.options.bootstrap_host, "localhost");
  EXPECT_EQ(r.options.bootstrap_port, 9092);
  EXPECT_TRUE(r.options.json);
  ASSERT_EQ(r.options.groups.size(), 1u);
  EXPECT_EQ(r.options.groups[0], "g1");
}

TEST(admin_args, options_may_follow_the_command_and_ipv6_brackets_are_stripped) {
  const auto r = parse({"groups", "list", "--bootstrap", "[::1]:9092"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.options.cmd, command::groups_list);
  EXPECT_EQ(r.options.bootstrap_host, "::1");
}

TEST(admin_args, delete_takes_several_groups) {
  const auto r = parse({"--bootstrap", "h:1", "groups", "delete", "a", "b", "c"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.options.cmd, command::groups_delete);
  EXPECT_EQ(r.options.groups, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(admin_args, reset_offsets_parses_each_target) {
  auto r = parse({"--bootstrap", "h:1", "groups", "reset-offsets", "g", "--topic", "t",
                  "--to-offset", "42", "--execute"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.options.cmd, command::groups_reset_offsets);
  EXPECT_EQ(r.options.to, reset_to::offset);
  EXPECT_EQ(r.options.to_offset, 42);
  EXPECT_TRUE(r.options.execute);
  EXPECT_EQ(r.options.topic, "t");

  r = parse({"--bootstrap", "h:1", "groups", "reset-offsets", "g", "--topic", "t", "--to-datetime",
             "2026-11-26T08:00:00Z", "--dry-run"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.options.to, reset_to::datetime);
  EXPECT_EQ(r.options.to_timestamp_ms, 1795680000000);
  EXPECT_FALSE(r.options.execute);

  r = parse({"--bootstrap", "h:1", "groups", "reset-offsets", "g", "--topic", "t", "--to-earliest",
             "--dry-run"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.options.to, reset_to::earliest);
  r = parse({"--bootstrap", "h:1", "groups", "reset-offsets", "g", "--topic", "t", "--to-latest",
             "--execute"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.options.to, reset_to::latest);
}

TEST(admin_args, help_needs_nothing_else_and_names_the_command) {
  auto r = parse({"--help"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(r.options.help);
  EXPECT_EQ(r.options.cmd, command::none);
  r = parse({"groups", "reset-offsets", "--help"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(r.options.help);
  EXPECT_EQ(r.options.cmd, command::groups_reset_offsets);
  EXPECT_NE(help_text(command::groups_reset_offsets).find("--to-datetime"), std::string_view::npos);
  EXPECT_NE(help_text(command::none).find("groups describe"), std::string_view::npos);
}

TEST(admin_args, every_bad_input_is_refused_with_a_message) {
  const std::vector<std::vector<std::string_view>> bad = {
      {},
      {"--bootstrap", "h:1"},
      {"--bootstrap", "h:1", "topics", "list"},
      {"--bootstrap", "h:1", "groups"},
      {"--bootstrap", "h:1", "groups", "frobnicate"},
      {"groups", "list"},                        // no --bootstrap
      {"--bootstrap", "h", "groups", "list"},    // no port
      {"--bootstrap", "h:0", "groups", "list"},  // port out of range
      {"--bootstrap", "h:70000", "groups", "list"},
      {"--bootstrap", "h:x", "groups", "list"},
      {"--bootstrap"},  // no value
      {"--bootstrap", "h:1", "groups", "list", "extra"},
      {"--bootstrap", "h:1", "groups", "list", "--nope"},
      {"--bootstrap", "h:1", "groups", "describe"},
      {"--bootstrap", "h:1", "groups", "describe", "a", "b"},
      {"--bootstrap", "h:1", "groups", "describe", ""},
      {"--bootstrap", "h:1", "groups", "delete"},
      {"--bootstrap", "h:1", "groups", "describe", "g", "--execute"},
      {"--bootstrap", "h:1", "groups", "describe", "g", "--topic", "t"},
      {"--bootstrap", "h:1", "groups", "reset-offsets", "g", "--to-earliest", "--dry-run"},
      {"--bootstrap", "h:1", "groups", "reset-offsets", "g", "--topic", "t", "--dry-run"},
      {"--bootstrap", "h:1", "groups", "reset-offsets", "g", "--topic", "t", "--to-earliest"},
      {"--bootstrap", "h:1", "groups", "reset-offsets", "g", "--topic", "t", "--to-earliest",
       "--to-latest", "--dry-run"},
      {"--bootstrap", "h:1", "groups", "reset-offsets", "g", "--topic", "t", "--to-earliest",
       "--dry-run", "--execute"},
      {"--bootstrap", "h:1", "groups", "reset-offsets", "g", "--topic", "t", "--to-offset", "-1",
       "--dry-run"},
      {"--bootstrap", "h:1", "groups", "reset-offsets", "g", "--topic", "t", "--to-offset", "1x",
       "--dry-run"},
      {"--bootstrap", "h:1", "groups", "reset-offsets", "g", "--topic", "t", "--to-datetime",
       "2026-11-26", "--dry-run"},
      {"--bootstrap", "h:1", "--timeout-ms", "0", "groups", "list"},
  };
  for (const auto& args : bad) {
    const auto r = parse_args(args);
    std::string joined;
    for (const auto a : args) joined += std::string(a) + " ";
    EXPECT_FALSE(r.ok()) << "expected a refusal of: " << joined;
    EXPECT_FALSE(r.error.empty()) << joined;
  }
}

TEST(admin_args, run_exits_2_on_bad_arguments_and_0_on_help) {
  std::ostringstream out, err;
  EXPECT_EQ(run({"groups", "describe"}, out, err), k_exit_usage);
  EXPECT_NE(err.str().find("ringlog-admin: "), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("groups describe --help"), std::string::npos) << err.str();
  std::ostringstream out2, err2;
  EXPECT_EQ(run({"groups", "list", "--help"}, out2, err2), k_exit_ok);
  EXPECT_NE(out2.str().find("ListGroups"), std::string::npos) << out2.str();
  EXPECT_TRUE(err2.str().empty()) << err2.str();
}

TEST(admin_datetime, parses_zones_and_fractions_and_refuses_the_rest) {
  EXPECT_EQ(parse_datetime_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_datetime_ms("1970-01-01T00:00:01.5Z"), 1500);
  EXPECT_EQ(parse_datetime_ms("1970-01-01T00:00:01.123456Z"), 1123);
  EXPECT_EQ(parse_datetime_ms("2026-11-26T09:00:00+01:00"), 1795680000000);
  EXPECT_EQ(parse_datetime_ms("2026-11-26T07:00:00-01:00"), 1795680000000);
  EXPECT_EQ(parse_datetime_ms("2026-11-26T08:00:00"), -1);  // no zone: ambiguous
  EXPECT_EQ(parse_datetime_ms("2026-02-30T08:00:00Z"), -1);
  EXPECT_EQ(parse_datetime_ms("2026-13-01T08:00:00Z"), -1);
  EXPECT_EQ(parse_datetime_ms("2026-11-26T08:00:00Zjunk"), -1);
  EXPECT_EQ(parse_datetime_ms("2026-11-26T08:00:00.Z"), -1);
  EXPECT_EQ(parse_datetime_ms(""), -1);
}

std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (const int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}

TEST(admin_assignment, decodes_kafka_bytes_with_user_data) {
  // version 1, one topic "ab" with partitions 0 and 7, user data of 2 bytes.
  const auto b = bytes({0, 1, 0, 0, 0, 1, 0, 2, 'a', 'b', 0, 0, 0,    2,
                        0, 0, 0, 0, 0, 0, 0, 7, 0,   0,   0, 2, 0xde, 0xad});
  const auto a = decode_consumer_assignment(b);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->version, 1);
  ASSERT_EQ(a->topics.size(), 1u);
  EXPECT_EQ(a->topics[0].topic, "ab");
  EXPECT_EQ(a->topics[0].partitions, (std::vector<int32_t>{0, 7}));
}

TEST(admin_assignment, empty_bytes_are_no_assignment_and_null_user_data_is_fine) {
  const auto none = decode_consumer_assignment({});
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->topics.empty());
  const auto b = bytes({0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff});
  const auto a = decode_consumer_assignment(b);
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->topics.empty());
}

TEST(admin_assignment, round_trips_through_the_encoder) {
  consumer_assignment in;
  in.topics = {{"orders", {0, 1, 2}}, {"payments", {5}}};
  const auto a = decode_consumer_assignment(encode_consumer_assignment(in));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(*a, in);
}

TEST(admin_assignment, truncated_or_lying_bytes_are_refused) {
  consumer_assignment in;
  in.topics = {{"orders", {0, 1, 2}}};
  const auto good = encode_consumer_assignment(in);
  // Every strict prefix that cuts into the partitions is refused (cutting
  // only the user data is tolerated: some clients omit it).
  for (size_t n = 1; n + 4 < good.size(); ++n) {
    const std::span<const std::byte> cut(good.data(), n);
    EXPECT_FALSE(decode_consumer_assignment(cut).has_value()) << "prefix of " << n << " bytes";
  }
  EXPECT_FALSE(decode_consumer_assignment(bytes({0xff, 0xff, 0, 0, 0, 0})).has_value());  // v -1
  // A topic count far beyond the bytes, a negative count, a negative name length.
  EXPECT_FALSE(decode_consumer_assignment(bytes({0, 0, 0x7f, 0xff, 0xff, 0xff})).has_value());
  EXPECT_FALSE(decode_consumer_assignment(bytes({0, 0, 0xff, 0xff, 0xff, 0xfe})).has_value());
  EXPECT_FALSE(
      decode_consumer_assignment(bytes({0, 0, 0, 0, 0, 1, 0xff, 0xfe, 0, 0, 0, 0})).has_value());
  // A user data length beyond the bytes.
  EXPECT_FALSE(decode_consumer_assignment(bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 1})).has_value());
}

}  // namespace
}  // namespace ringlog::admin
