// Queue listings for `dane-relay queue list` (SPEC §4, §9): the text layout of Postfix's
// `postqueue -p` and the one-object-per-line JSON of `postqueue -j`. Pure formatting of
// MessageInfo snapshots (Spool::list()); nothing here fails.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "relay/spool/types.hpp"

namespace dr::relay {

// Like postqueue -p: per message "ID[!] size arrival sender", then each recipient still to be
// delivered, preceded by its deferral reason in parentheses; '!' marks a held message. Arrival
// times are local time (set TZ for other zones). Ends with "-- N Kbytes in M Requests.".
std::string format_queue_list(const std::vector<MessageInfo>& messages);
// The same in pieces, for a queue listed page by page: the column heads, the entries of one
// page, and the closing line over all pages (`bytes` the sum of body sizes).
std::string format_queue_list_head();
std::string format_queue_list_entries(const std::vector<MessageInfo>& messages);
std::string format_queue_list_tail(std::uint64_t bytes, std::size_t messages);

// Like postqueue -j: one JSON object per message and line, with queue_name "hold", "deferred"
// (some recipient deferred) or "active".
std::string format_queue_json(const std::vector<MessageInfo>& messages);

}  // namespace dr::relay
