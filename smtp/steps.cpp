#include "smtp/steps.hpp"

#include <algorithm>

namespace dr::smtp {

namespace {

struct Row {
    Step step;
    std::string_view label;
    int seconds;  // Postfix default of the matching parameter
};

// One row per step: the label completes Postfix's "... while <label>" messages.
constexpr Row kRows[] = {
    {Step::connect, "connecting", 30},                               // smtp_connect_timeout
    {Step::greeting, "receiving the initial server greeting", 300},  // smtp_helo_timeout
    {Step::ehlo, "performing the EHLO handshake", 300},              // smtp_helo_timeout
    {Step::helo, "performing the HELO handshake", 300},              // smtp_helo_timeout
    {Step::starttls, "receiving the STARTTLS response", 300},        // smtp_starttls_timeout
    {Step::tls_handshake, "performing the TLS handshake", 300},      // smtp_starttls_timeout
    {Step::mail, "sending MAIL FROM", 300},                          // smtp_mail_timeout
    {Step::rcpt, "sending RCPT TO", 300},                            // smtp_rcpt_timeout
    {Step::data, "sending DATA command", 120},                       // smtp_data_init_timeout
    {Step::body, "sending message body", 180},                       // smtp_data_xfer_timeout
    {Step::end_of_data, "sending end of data -- message may be sent more than once",
     600},                                           // smtp_data_done_timeout
    {Step::rset, "sending RSET", 20},                // smtp_rset_timeout
    {Step::quit, "sending QUIT", 300},               // smtp_quit_timeout
    {Step::command, "receiving a command", 300},     // smtpd_timeout
    {Step::data_in, "receiving message data", 300},  // smtpd_timeout
};
static_assert(std::size(kRows) == static_cast<std::size_t>(Step::count_));

constexpr bool rows_in_enum_order() {
    for (std::size_t i = 0; i < std::size(kRows); ++i)
        if (static_cast<std::size_t>(kRows[i].step) != i) return false;
    return true;
}
static_assert(rows_in_enum_order(), "kRows is indexed by Step");

}  // namespace

std::string_view label(Step step) {
    auto i = static_cast<std::size_t>(step);
    return i < std::size(kRows) ? kRows[i].label : "unknown step";
}

StepTimeouts::StepTimeouts() {
    for (const auto& row : kRows)
        table_[static_cast<std::size_t>(row.step)] = std::chrono::seconds(row.seconds);
}

StepTimeouts& StepTimeouts::cap(Duration d) {
    for (auto& t : table_) t = std::min(t, d);
    return *this;
}

std::chrono::steady_clock::duration bounded(
    std::chrono::steady_clock::duration step,
    std::optional<std::chrono::steady_clock::time_point> deadline,
    std::chrono::steady_clock::time_point now) {
    using D = std::chrono::steady_clock::duration;
    if (!deadline) return std::max(step, D::zero());
    return std::clamp(*deadline - now, D::zero(), std::max(step, D::zero()));
}

}  // namespace dr::smtp
