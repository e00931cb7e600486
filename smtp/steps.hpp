// The protocol steps of both SMTP dialogues, each with one timeout and one log label (DESIGN §3.2).
// Entry points: Step, label(Step), StepTimeouts (Postfix's defaults, overridable per step),
// bounded() (a step's time cut to a whole attempt's or session's deadline). Labels complete
// Postfix's messages: "conversation with h[a] timed out while <label>".
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

namespace dr::smtp {

enum class Step : std::size_t {
    // client (outbound)
    connect,
    greeting,
    ehlo,
    helo,
    starttls,
    tls_handshake,
    mail,
    rcpt,
    data,
    body,
    end_of_data,
    rset,
    quit,
    // server (inbound)
    command,
    data_in,
    count_
};

std::string_view label(Step step);

class StepTimeouts {
  public:
    using Duration = std::chrono::milliseconds;
    StepTimeouts();  // Postfix's smtp_*_timeout and smtpd_timeout defaults
    Duration get(Step s) const { return table_[static_cast<std::size_t>(s)]; }
    StepTimeouts& set(Step s, Duration d) {
        table_[static_cast<std::size_t>(s)] = d;
        return *this;
    }
    // Every step at most d: handy for tests and for `dane-relay check`.
    StepTimeouts& cap(Duration d);

  private:
    std::array<Duration, static_cast<std::size_t>(Step::count_)> table_{};
};

// The time a step may take: its own budget, cut to what is left before `deadline` (of the
// whole attempt or session, SPEC §12), never negative: zero once the deadline has passed.
std::chrono::steady_clock::duration bounded(
    std::chrono::steady_clock::duration step,
    std::optional<std::chrono::steady_clock::time_point> deadline,
    std::chrono::steady_clock::time_point now);

}  // namespace dr::smtp
