// SMTP command lines as the server reads them (RFC 5321 §4.1, ESMTP parameters of RFC 1870,
// 6152, 6531, 3461, 4954), without I/O. Entry point: parse_command(line without CRLF).
// Failures: a CommandError carrying the reply to send (500/501/502/553/555 with RFC 3463 codes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "smtp/address.hpp"
#include "smtp/envelope.hpp"

namespace dr::smtp {

enum class Verb {
    helo,
    ehlo,
    mail,
    rcpt,
    data,
    bdat,
    rset,
    noop,
    quit,
    vrfy,
    expn,
    help,
    starttls,
    auth
};

struct MailParams {
    std::optional<std::uint64_t> size;  // RFC 1870
    BodyType body = BodyType::unspecified;
    bool smtputf8 = false;            // RFC 6531
    std::string ret;                  // RFC 3461: "FULL" or "HDRS"
    std::string envid;                // RFC 3461, xtext-decoded
    std::optional<std::string> auth;  // RFC 4954 §5: AUTH=<mailbox>|<>, xtext-decoded
    bool requiretls = false;          // RFC 8689 §3
};

struct RcptParams {
    std::string
        notify;         // RFC 3461: "NEVER" or a comma list of SUCCESS, FAILURE, DELAY (upper case)
    std::string orcpt;  // RFC 3461: "addr-type;address", address xtext-decoded
};

struct Command {
    Verb verb = Verb::noop;
    std::string argument;  // the rest of the line after the verb and one space
    Path path;             // MAIL and RCPT
    MailParams mail;
    RcptParams rcpt;
};

struct CommandError {
    int code = 500;
    std::string enhanced = "5.5.2";
    std::string text;
    std::string reply() const { return std::to_string(code) + " " + enhanced + " " + text; }
};

struct CommandResult {
    std::optional<Command> command;
    CommandError error;  // valid when !command
};

// `line` is one command line without its CRLF (the line reader already refused bare LF
// and overlong lines). Verbs are case-insensitive (RFC 5321 §2.4).
CommandResult parse_command(std::string_view line);

// The verb of a line, if it names one, whether or not the rest is valid (for statistics).
std::optional<Verb> verb_of(std::string_view line);

}  // namespace dr::smtp
