// The metrics room (SPEC §10): the text format's escaping and numbers, cumulative histogram
// buckets, every SPEC name and label on the page, /proc parsing, and the HTTP server on a
// real loopback socket (routes, size bound, watchdog, a busy port).
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "dane/dns.hpp"
#include "dane/verify.hpp"
#include "relay/metrics/http_server.hpp"
#include "relay/metrics/metrics.hpp"

using namespace dr::relay;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

TEST(Exposition, EscapesLabelValuesAndHelp) {
    EXPECT_EQ(escape_label_value("plain"), "plain");
    EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    EXPECT_EQ(escape_help("say \"hi\"\\\n"), "say \"hi\"\\\\\\n");  // quotes stay in HELP
    Exposition page;
    page.family("x_total", "counter", "line one\nline two");
    page.sample("x_total", {{"host", "mx[1]\"evil\"\n# TYPE y gauge"}, {"k", "v"}},
                std::uint64_t{3});
    EXPECT_EQ(page.text(),
              "# HELP x_total line one\\nline two\n# TYPE x_total counter\n"
              "x_total{host=\"mx[1]\\\"evil\\\"\\n# TYPE y gauge\",k=\"v\"} 3\n");
}

TEST(Exposition, NumbersInGoSyntax) {
    EXPECT_EQ(format_value(0), "0");
    EXPECT_EQ(format_value(0.05), "0.05");
    EXPECT_EQ(format_value(432000), "432000");
    EXPECT_EQ(format_value(1.5e-7), "1.5e-07");
    EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
    EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
    EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(Histogram, BucketsAreCumulativeAndCountIsTheInfBucket) {
    Histogram h;
    for (double s : {0.01, 0.05, 0.07, 3.0, 3.0, 1e7, -1.0}) h.observe(s);
    Exposition page;
    h.render(page, "d_seconds");
    const std::string& t = page.text();
    // le is inclusive: 0.05 lands in the 0.05 bucket; negative counts as 0.
    EXPECT_NE(t.find("d_seconds_bucket{le=\"0.05\"} 3\n"), std::string::npos) << t;
    EXPECT_NE(t.find("d_seconds_bucket{le=\"0.1\"} 4\n"), std::string::npos) << t;
    EXPECT_NE(t.find("d_seconds_bucket{le=\"2.5\"} 4\n"), std::string::npos) << t;
    EXPECT_NE(t.find("d_seconds_bucket{le=\"5\"} 6\n"), std::string::npos) << t;
    EXPECT_NE(t.find("d_seconds_bucket{le=\"432000\"} 6\n"), std::string::npos) << t;
    EXPECT_NE(t.find("d_seconds_bucket{le=\"+Inf\"} 7\n"), std::string::npos) << t;
    EXPECT_NE(t.find("d_seconds_count 7\n"), std::string::npos) << t;
    EXPECT_NE(t.find("d_seconds_sum 10000006.13\n"), std::string::npos) << t;
    // Every bucket line, in order, never decreasing.
    std::regex bucket(R"re(d_seconds_bucket\{le="([^"]+)"\} (\d+)\n)re");
    std::uint64_t last = 0;
    int n = 0;
    for (std::sregex_iterator it(t.begin(), t.end(), bucket), end; it != end; ++it, ++n) {
        auto v = std::stoull((*it)[2]);
        EXPECT_GE(v, last);
        last = v;
    }
    EXPECT_EQ(n, static_cast<int>(Histogram::kBounds.size()) + 1);
}

TEST(Metrics, EverySpecNameAndLabelIsOnThePage) {
    Metrics m;
    m.accepted();
    m.accepted();
    m.delivery("sent", "Verified", 1.5);
    m.delivery("deferred", "none", std::nullopt);
    m.delivery("expired", "Verified", std::nullopt);  // not a SPEC status: not counted
    m.dns_lookup("TLSA", "bogus");
    m.dns_lookup("DNSKEY", "secure");  // not a SPEC type
    m.tls_connection("Anonymous");
    m.tls_connection("none");            // no TLS is no TLS connection
    m.tls_connection("Verified", true);  // over a resumed session (SPEC §5.6)
    ProcessStats p;
    p.open_fds = 9;
    std::string page = m.render({42, p});
    for (const char* family :
         {"dane_relay_messages_accepted_total counter", "dane_relay_deliveries_total counter",
          "dane_relay_dns_lookups_total counter", "dane_relay_tls_connections_total counter",
          "dane_relay_tls_sessions_resumed_total counter", "dane_relay_queue_messages gauge",
          "dane_relay_delivery_seconds histogram", "process_cpu_seconds_total counter",
          "process_resident_memory_bytes gauge", "process_start_time_seconds gauge",
          "process_open_fds gauge"}) {
        std::string name(family, std::strchr(family, ' '));
        EXPECT_NE(page.find("# TYPE " + std::string(family) + "\n"), std::string::npos) << family;
        EXPECT_NE(page.find("# HELP " + name + " "), std::string::npos) << family;
    }
    for (const char* line :
         {"dane_relay_messages_accepted_total 2\n",
          "dane_relay_deliveries_total{status=\"sent\",tls=\"Verified\"} 1\n",
          "dane_relay_deliveries_total{status=\"deferred\",tls=\"none\"} 1\n",
          "dane_relay_deliveries_total{status=\"bounced\",tls=\"Anonymous\"} 0\n",
          "dane_relay_dns_lookups_total{type=\"TLSA\",security=\"bogus\"} 1\n",
          "dane_relay_dns_lookups_total{type=\"MX\",security=\"failure\"} 0\n",
          "dane_relay_tls_connections_total{level=\"Anonymous\"} 1\n",
          "dane_relay_tls_connections_total{level=\"Verified\"} 1\n",
          "dane_relay_tls_sessions_resumed_total 1\n", "dane_relay_queue_messages 42\n",
          "dane_relay_delivery_seconds_count 1\n", "process_open_fds 9\n"})
        EXPECT_NE(page.find(line), std::string::npos) << line << page;
    EXPECT_EQ(page.find("expired"), std::string::npos);
    EXPECT_EQ(page.find("DNSKEY"), std::string::npos);
    EXPECT_EQ(page.find("level=\"none\""), std::string::npos);
    EXPECT_EQ(m.delivery_count("sent", "Verified"), 1u);
}

// The names the relay passes in come from these to_string()s: each must be a SPEC label.
TEST(Metrics, TheRelaysNamesAreTheSpecLabels) {
    using dr::dane::Security;
    using dr::dane::TlsTrust;
    for (auto t : {TlsTrust::anonymous, TlsTrust::untrusted, TlsTrust::trusted, TlsTrust::verified})
        EXPECT_TRUE(label_index(kTlsLabels, dr::dane::to_string(t))) << dr::dane::to_string(t);
    for (auto s : {Security::secure, Security::insecure, Security::bogus, Security::failure})
        EXPECT_TRUE(label_index(kDnsSecurities, dr::dane::to_string(s))) << dr::dane::to_string(s);
}

TEST(Metrics, CountsFromTwoThreadsAddUp) {
    Metrics m;
    auto work = [&] {
        for (int i = 0; i < 100000; ++i) {
            m.accepted();
            m.delivery("sent", "Trusted", 0.2);
        }
    };
    std::thread a(work), b(work);
    a.join();
    b.join();
    EXPECT_EQ(m.accepted_count(), 200000u);
    EXPECT_EQ(m.delivery_count("sent", "Trusted"), 200000u);
    EXPECT_NE(m.render({}).find("dane_relay_delivery_seconds_count 200000\n"), std::string::npos);
}

TEST(Process, ParsesProcStatWithAnAwkwardCommandName) {
    // proc(5) fields 14 utime, 15 stime, 22 starttime, 23 vsize, 24 rss.
    std::string stat =
        "4711 (a) b (c) S 1 4711 4711 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 "
        "12345 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1";
    auto st = parse_proc_stat(stat);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->utime, 250u);
    EXPECT_EQ(st->stime, 50u);
    EXPECT_EQ(st->starttime, 12345u);
    EXPECT_EQ(st->vsize, 104857600u);
    EXPECT_EQ(st->rss, 2560u);
    EXPECT_FALSE(parse_proc_stat("4711 (short) S 1 2"));
    EXPECT_FALSE(parse_proc_stat("no parenthesis"));
    EXPECT_EQ(parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1764640000\nprocesses 9\n"), 1764640000u);
    EXPECT_FALSE(parse_boot_time("cpu 1\n"));
}

TEST(Process, ReadsThisProcess) {
    auto p = read_process_stats();
    ASSERT_TRUE(p);
    EXPECT_GT(p->resident_bytes, 0u);
    EXPECT_GE(p->open_fds, 3u);  // stdin, stdout, stderr
    EXPECT_GT(p->start_time_seconds, 1.6e9);
    EXPECT_GT(p->max_fds, 0u);
}

TEST(Http, Routes) {
    EXPECT_EQ(route_request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), Route::metrics);
    EXPECT_EQ(route_request("GET /metrics HTTP/1.0\r\n\r\n"), Route::metrics);
    EXPECT_EQ(route_request("GET /metrics?name[]=x HTTP/1.1\r\n\r\n"), Route::metrics);
    EXPECT_EQ(route_request("GET / HTTP/1.1\r\n\r\n"), Route::not_found);
    EXPECT_EQ(route_request("GET /metrics/ HTTP/1.1\r\n\r\n"), Route::not_found);
    EXPECT_EQ(route_request("POST /metrics HTTP/1.1\r\n\r\n"), Route::method_not_allowed);
    EXPECT_EQ(route_request("GET /metrics\r\n\r\n"), Route::bad_request);
    EXPECT_EQ(route_request("GET /metrics SMTP/1.0\r\n\r\n"), Route::bad_request);
    EXPECT_EQ(route_request("\r\n\r\n"), Route::bad_request);
    EXPECT_EQ(http_response(Route::metrics, "a 1\n"),
              "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
              "Content-Length: 4\r\nConnection: close\r\n\r\na 1\n");
    EXPECT_TRUE(
        http_response(Route::not_found, "secret").starts_with("HTTP/1.0 404 Not Found\r\n"));
    EXPECT_EQ(http_response(Route::not_found, "secret").find("secret"), std::string::npos);
}

namespace {

// A MetricsServer on 127.0.0.1 (a free port) run by its own thread.
class ServerFixture : public ::testing::Test {
  protected:
    void SetUp() override {
        server_.emplace(
            io_.get_executor(), [this] { return "page " + std::to_string(++pages_) + "\n"; },
            std::chrono::milliseconds(300));
        dr::conf::Endpoint any{*dr::conf::parse_ip("127.0.0.1"), 0};
        ASSERT_EQ(server_->bind(any), "");
        port_ = server_->local_endpoint().port();
        server_->start();
        thread_ = std::thread([this] { io_.run(); });
    }
    void TearDown() override {
        asio::post(io_, [this] { server_->close(); });
        io_.stop();
        thread_.join();
    }
    // Sends `request`, returns everything the server wrote before closing.
    std::string ask(const std::string& request) {
        asio::io_context client;
        tcp::socket s(client);
        s.connect({asio::ip::make_address("127.0.0.1"), port_});
        asio::write(s, asio::buffer(request));
        std::string out;
        boost::system::error_code ec;
        asio::read(s, asio::dynamic_buffer(out), ec);
        return out;
    }

    asio::io_context io_;
    std::optional<MetricsServer> server_;
    std::thread thread_;
    std::uint16_t port_ = 0;
    int pages_ = 0;
};

}  // namespace

TEST_F(ServerFixture, ServesThePageAndNothingElse) {
    auto ok = ask("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    EXPECT_TRUE(ok.starts_with("HTTP/1.0 200 OK\r\n")) << ok;
    EXPECT_TRUE(ok.ends_with("\r\n\r\npage 1\n")) << ok;
    EXPECT_TRUE(ask("GET /other HTTP/1.1\r\n\r\n").starts_with("HTTP/1.0 404 "));
    EXPECT_TRUE(ask("DELETE /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.0 405 "));
    EXPECT_TRUE(ask("garbage\r\n\r\n").starts_with("HTTP/1.0 400 "));
    // A head larger than the bound, without its blank line: refused, not buffered on.
    // Exactly the bound, so that nothing is left unread (which would make the close a reset).
    std::string huge = "GET /metrics HTTP/1.1\r\nX: ";
    huge.resize(MetricsServer::kMaxRequest, 'a');
    EXPECT_TRUE(ask(huge).starts_with("HTTP/1.0 400 "));
    EXPECT_EQ(pages_, 1);  // rendered only for the page
}

TEST_F(ServerFixture, ASilentClientIsDroppedByTheWatchdog) {
    asio::io_context client;
    tcp::socket s(client);
    s.connect({asio::ip::make_address("127.0.0.1"), port_});
    asio::write(s, asio::buffer(std::string("GET /metrics HTTP/1.1\r\n")));  // never finished
    const auto t0 = std::chrono::steady_clock::now();
    std::string out;
    boost::system::error_code ec;
    asio::read(s, asio::dynamic_buffer(out), ec);  // returns when the server closes
    EXPECT_EQ(ec, asio::error::eof);
    EXPECT_EQ(out, "");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
    // And the server still answers.
    EXPECT_TRUE(ask("GET /metrics HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 200 OK"));
}

TEST_F(ServerFixture, ABusyPortIsAClearError) {
    asio::io_context other;
    MetricsServer second(other.get_executor(), [] { return std::string(); });
    dr::conf::Endpoint same{*dr::conf::parse_ip("127.0.0.1"), port_};
    EXPECT_EQ(second.bind(same), "cannot listen for metrics on 127.0.0.1:" + std::to_string(port_) +
                                     ": Address already in use");
}

namespace {

// Every PromQL text of the dashboard: "expr" of targets, the variables' queries.
void collect_queries(const boost::json::value& v, std::vector<std::string>& out) {
    if (const auto* o = v.if_object()) {
        for (const auto& [key, value] : *o) {
            if ((key == "expr" || key == "definition" || key == "query") && value.is_string())
                out.emplace_back(value.as_string());
            collect_queries(value, out);
        }
    } else if (const auto* a = v.if_array()) {
        for (const auto& e : *a) collect_queries(e, out);
    }
}

}  // namespace

// deploy/grafana/dane-relay.json: valid JSON, every metric an expression names is on our
// page (a histogram's _bucket/_sum/_count count as it), and every dane_relay_ family is shown.
TEST(GrafanaDashboard, NamesOnlyMetricsWeExport) {
    std::ifstream in(DR_GRAFANA_DASHBOARD);
    ASSERT_TRUE(in) << DR_GRAFANA_DASHBOARD;
    std::stringstream text;
    text << in.rdbuf();
    boost::system::error_code ec;
    auto doc = boost::json::parse(text.str(), ec);
    ASSERT_FALSE(ec) << ec.message();
    std::vector<std::string> queries;
    collect_queries(doc, queries);
    ASSERT_GE(queries.size(), 10u);

    Metrics m;
    std::string page = m.render({0, read_process_stats()});
    std::set<std::string> families, used;
    std::regex type_line(R"(# TYPE (\w+) (\w+)\n)");
    std::map<std::string, std::string> type_of;
    for (std::sregex_iterator it(page.begin(), page.end(), type_line), end; it != end; ++it)
        type_of[(*it)[1]] = (*it)[2];
    std::regex name(R"(\b(dane_relay_\w+|process_\w+))");
    for (const auto& q : queries) {
        for (std::sregex_iterator it(q.begin(), q.end(), name), end; it != end; ++it) {
            std::string n = (*it)[1];
            for (const char* suffix : {"_bucket", "_sum", "_count"})
                if (n.ends_with(suffix)) {
                    auto base = n.substr(0, n.size() - std::strlen(suffix));
                    if (type_of.count(base) && type_of[base] == "histogram") n = base;
                }
            EXPECT_TRUE(type_of.count(n)) << n << " in: " << q;
            used.insert(n);
        }
    }
    for (const auto& [n, type] : type_of) {
        if (n.starts_with("dane_relay_")) {
            EXPECT_TRUE(used.count(n)) << n << " has no panel";
        }
    }
}
