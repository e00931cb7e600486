#include "relay/tlsrpt/report_mail.hpp"

#include <zlib.h>

#include <ctime>
#include <stdexcept>

#include "relay/queue/bounce.hpp"
#include "relay/tlsrpt/store.hpp"
#include "smtp/base64.hpp"

namespace dr::relay::tlsrpt {

std::string gzip(std::string_view data) {
    z_stream z{};
    // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("deflateInit2 failed");
    std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
    return out;
}

std::int64_t day_start(const std::string& day) {
    if (!Store::is_day(day)) return -1;
    std::tm tm{};
    tm.tm_year = std::stoi(day.substr(0, 4)) - 1900;
    tm.tm_mon = std::stoi(day.substr(5, 2)) - 1;
    tm.tm_mday = std::stoi(day.substr(8, 2));
    return static_cast<std::int64_t>(timegm(&tm));
}

namespace {

std::string file_safe(std::string s) {
    for (char& c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' &&
            c != '@')
            c = '_';
    return s;
}

// Base64 in lines of 76 (RFC 2045 §6.8).
std::string base64_lines(std::string_view data) {
    const auto b = smtp::base64_encode(data);
    std::string out;
    for (std::size_t i = 0; i < b.size(); i += 76) out.append(b, i, 76).append("\r\n");
    return out;
}

}  // namespace

std::string report_id(const std::string& day, const std::string& domain,
                      const std::string& hostname) {
    return day + "T00:00:00Z_" + domain + "@" + hostname;
}

std::string report_file_name(const ReportMailInput& in) {
    const auto begin = day_start(in.day);
    return file_safe(in.submitter) + "!" + file_safe(in.domain) + "!" + std::to_string(begin) +
           "!" + std::to_string(begin + 86399) + "!" + file_safe(in.report_id) + ".json.gz";
}

std::string compose_report_mail(const ReportMailInput& in) {
    const auto attachment = base64_lines(gzip(in.json));
    const auto text = "This is an aggregate TLS report (RFC 8460) from " + in.submitter + " for " +
                      in.domain + ", " + in.day + " (UTC).\r\n";
    const auto boundary = make_boundary(in.report_id, in.now_us, in.hostname, {text, attachment});
    std::string m;
    m += "From: <" + in.from + ">\r\n";
    m += "To: <" + in.to + ">\r\n";
    m += fold_field("Subject: Report Domain: " + in.domain + " Submitter: " + in.submitter +
                    " Report-ID: <" + in.report_id + ">");
    m += "Date: " + rfc5322_date(in.now_us) + "\r\n";
    m += "Message-ID: <" + std::to_string(in.now_us) + ".tlsrpt@" + in.hostname + ">\r\n";
    m += "TLS-Report-Domain: " + in.domain + "\r\n";
    m += "TLS-Report-Submitter: " + in.submitter + "\r\n";
    m += "TLS-Required: No\r\n";
    m += "Auto-Submitted: auto-generated\r\n";
    m += "MIME-Version: 1.0\r\n";
    m += fold_field("Content-Type: multipart/report; report-type=\"tlsrpt\"; boundary=\"" +
                    boundary + "\"");
    m += "\r\n";
    m += "--" + boundary + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + text;
    m += "--" + boundary + "\r\nContent-Type: application/tlsrpt+gzip\r\n";
    m += fold_field("Content-Disposition: attachment; filename=\"" + report_file_name(in) + "\"");
    m += "Content-Transfer-Encoding: base64\r\n\r\n" + attachment;
    m += "--" + boundary + "--\r\n";
    return m;
}

}  // namespace dr::relay::tlsrpt
