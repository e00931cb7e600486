#include "smtp/command.hpp"

#include <array>
#include <utility>

namespace dr::smtp {
namespace {

std::string upper(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && upper(s.substr(0, prefix.size())) == prefix;
}

CommandResult fail(int code, std::string enhanced, std::string text) {
    return {std::nullopt, CommandError{code, std::move(enhanced), std::move(text)}};
}

struct VerbName {
    std::string_view name;
    Verb verb;
    bool takes_argument;  // false: anything after the verb is a syntax error
};

constexpr std::array<VerbName, 14> kVerbs{{
    {"HELO", Verb::helo, true},
    {"EHLO", Verb::ehlo, true},
    {"MAIL", Verb::mail, true},
    {"RCPT", Verb::rcpt, true},
    {"DATA", Verb::data, false},
    {"BDAT", Verb::bdat, true},
    {"RSET", Verb::rset, false},
    {"NOOP", Verb::noop, true},
    {"QUIT", Verb::quit, false},
    {"VRFY", Verb::vrfy, true},
    {"EXPN", Verb::expn, true},
    {"HELP", Verb::help, true},
    {"STARTTLS", Verb::starttls, false},
    {"AUTH", Verb::auth, true},
}};

// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
bool valid_keyword(std::string_view k) {
    if (k.empty()) return false;
    for (std::size_t i = 0; i < k.size(); ++i) {
        char c = k[i];
        bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || c != '-')) return false;
    }
    return true;
}

// esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 under RFC 6531 §3.3.
bool valid_value(std::string_view v) {
    if (v.empty()) return false;
    for (unsigned char c : v)
        if (c < 33 || c == '=' || c == 127) return false;
    return true;
}

std::optional<std::uint64_t> parse_number(std::string_view s) {
    if (s.empty() || s.size() > 19) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
}

// RFC 3461 §4.1: NOTIFY = "NEVER" / 1#("SUCCESS" / "FAILURE" / "DELAY")
bool valid_notify(const std::string& v) {
    if (v == "NEVER") return true;
    std::size_t start = 0;
    unsigned seen = 0;
    while (start <= v.size()) {
        std::size_t end = v.find(',', start);
        if (end == std::string::npos) end = v.size();
        std::string_view item = std::string_view(v).substr(start, end - start);
        unsigned bit = item == "SUCCESS" ? 1 : item == "FAILURE" ? 2 : item == "DELAY" ? 4 : 0;
        if (bit == 0 || (seen & bit)) return false;
        seen |= bit;
        if (end == v.size()) break;
        start = end + 1;
    }
    return true;
}

// RFC 3461 §4.2: ORCPT = addr-type ";" xtext; addr-type is an atom.
std::optional<std::string> decode_orcpt(std::string_view v) {
    auto semi = v.find(';');
    if (semi == 0 || semi == std::string_view::npos) return std::nullopt;
    auto addr = xtext_decode(v.substr(semi + 1));
    if (!addr || addr->empty()) return std::nullopt;
    return std::string(v.substr(0, semi + 1)) + *addr;
}

std::optional<CommandError> apply_mail_param(MailParams& m, const std::string& key,
                                             std::string_view value, bool has_value) {
    auto bad = [&] { return CommandError{501, "5.5.4", "Bad " + key + " parameter syntax"}; };
    if (key == "SIZE") {
        auto n = has_value ? parse_number(value) : std::nullopt;
        if (!n) return bad();
        m.size = n;
    } else if (key == "BODY") {
        std::string v = upper(value);
        if (v == "7BIT")
            m.body = BodyType::seven_bit;
        else if (v == "8BITMIME")
            m.body = BodyType::eight_bit_mime;
        else
            return CommandError{501, "5.5.4", "Unsupported BODY parameter: " + std::string(value)};
    } else if (key == "SMTPUTF8") {
        if (has_value) return bad();
        m.smtputf8 = true;
    } else if (key == "REQUIRETLS") {
        if (has_value) return bad();
        m.requiretls = true;
    } else if (key == "RET") {
        std::string v = upper(value);
        if (v != "FULL" && v != "HDRS") return bad();
        m.ret = v;
    } else if (key == "ENVID") {
        auto d = xtext_decode(value);
        if (!has_value || !d || d->size() > 100) return bad();  // RFC 3461 §4.4: 100 chars
        m.envid = *d;
    } else if (key == "AUTH") {
        auto d = has_value ? xtext_decode(value) : std::nullopt;
        if (!d) return bad();
        m.auth = *d;
    } else {
        return CommandError{555, "5.5.4", "Unsupported option: " + key};
    }
    return std::nullopt;
}

std::optional<CommandError> apply_rcpt_param(RcptParams& r, const std::string& key,
                                             std::string_view value, bool has_value) {
    auto bad = [&] { return CommandError{501, "5.5.4", "Bad " + key + " parameter syntax"}; };
    if (key == "NOTIFY") {
        std::string v = upper(value);
        if (!has_value || !valid_notify(v)) return bad();
        r.notify = v;
    } else if (key == "ORCPT") {
        auto d = has_value ? decode_orcpt(value) : std::nullopt;
        if (!d) return bad();
        r.orcpt = *d;
    } else {
        return CommandError{555, "5.5.4", "Unsupported option: " + key};
    }
    return std::nullopt;
}

// Mail-parameters = esmtp-param *(SP esmtp-param), after the path.
std::optional<CommandError> parse_params(std::string_view rest, Command& cmd) {
    std::string seen = " ";
    while (!rest.empty()) {
        if (rest[0] != ' ') return CommandError{501, "5.5.4", "Syntax error in parameters"};
        while (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
        if (rest.empty()) break;
        auto end = rest.find(' ');
        std::string_view param = rest.substr(0, end);
        rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
        auto eq = param.find('=');
        std::string_view keyword = param.substr(0, eq);
        bool has_value = eq != std::string_view::npos;
        std::string_view value = has_value ? param.substr(eq + 1) : std::string_view{};
        if (!valid_keyword(keyword) || (has_value && !valid_value(value)))
            return CommandError{501, "5.5.4", "Syntax error in parameters"};
        std::string key = upper(keyword);
        if (seen.find(" " + key + " ") != std::string::npos)
            return CommandError{501, "5.5.4", "Duplicate " + key + " parameter"};
        seen += key + " ";
        auto err = cmd.verb == Verb::mail ? apply_mail_param(cmd.mail, key, value, has_value)
                                          : apply_rcpt_param(cmd.rcpt, key, value, has_value);
        if (err) return err;
    }
    return std::nullopt;
}

CommandResult parse_envelope_command(Command cmd, std::string_view arg) {
    bool mail = cmd.verb == Verb::mail;
    std::string_view prefix = mail ? "FROM:" : "TO:";
    std::string syntax = mail ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>";
    if (!iequals_prefix(arg, prefix)) return fail(501, "5.5.4", syntax);
    arg.remove_prefix(prefix.size());
    // RFC 5321 has no space after the colon; many clients send one anyway.
    while (!arg.empty() && arg[0] == ' ') arg.remove_prefix(1);
    PathResult p = parse_path(arg, mail, !mail);
    if (!p.path) {
        std::string what = mail ? "5.1.7 Bad sender" : "5.1.3 Bad recipient";
        if (p.error == PathError::too_long)
            return fail(501, mail ? "5.1.7" : "5.1.3", "Address too long");
        return fail(501, what.substr(0, 5), what.substr(6) + " address syntax");
    }
    cmd.path = std::move(*p.path);
    if (auto err = parse_params(arg.substr(p.length), cmd)) return {std::nullopt, *err};
    // RFC 6531 §3.4: a UTF-8 reverse-path needs the SMTPUTF8 parameter.
    if (mail && cmd.path.utf8 && !cmd.mail.smtputf8)
        return fail(553, "5.6.7", "Must declare SMTPUTF8 to send unicode address");
    return {std::move(cmd), {}};
}

}  // namespace

CommandResult parse_command(std::string_view line) {
    for (char c : line) {
        // A CR inside the line is a bare CR; SPEC §3 refuses it (SMTP smuggling).
        if (c == '\r') return fail(550, "5.5.2", "Error: bare <CR> received");
        if (c == '\0') return fail(500, "5.5.2", "Error: NUL character received");
    }
    std::size_t space = line.find(' ');
    std::string verb = upper(line.substr(0, space));
    std::string_view arg = space == std::string_view::npos ? "" : line.substr(space + 1);
    for (const auto& v : kVerbs) {
        if (v.name != verb) continue;
        Command cmd;
        cmd.verb = v.verb;
        if (!v.takes_argument && space != std::string_view::npos)
            return fail(501, "5.5.4", "Syntax: " + verb);
        if ((v.verb == Verb::helo || v.verb == Verb::ehlo) && arg.empty())
            return fail(501, "5.5.4", "Syntax: " + verb + " hostname");
        if (v.verb == Verb::mail || v.verb == Verb::rcpt) return parse_envelope_command(cmd, arg);
        cmd.argument = std::string(arg);
        return {std::move(cmd), {}};
    }
    return fail(502, "5.5.2", "Error: command not recognized");
}

std::optional<Verb> verb_of(std::string_view line) {
    std::string verb = upper(line.substr(0, line.find(' ')));
    for (const auto& v : kVerbs)
        if (v.name == verb) return v.verb;
    return std::nullopt;
}

}  // namespace dr::smtp
