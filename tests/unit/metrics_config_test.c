/* tests/unit/metrics_config_test.c — the metrics_listen key (issue 7):
 * which addresses nlpd_config_parse_listen() takes, what it refuses and
 * with which reason, and the key in a config file (off by default, "off"
 * to turn it off again, a bad value refused with the file and line).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config.h"
#include "test_support.h"

static void
expect_ok(const char *value, const char *host, unsigned port, int family)
{
    char h[64], why[200] = "";
    unsigned p = 1;
    int fam = 0;
    if (nlpd_config_parse_listen(value, h, sizeof(h), &p, &fam, why, sizeof(why)) != 0)
        fail_msg("'%s' refused: %s", value, why);
    assert_string_equal(h, host);
    assert_int_equal(p, port);
    assert_int_equal(fam, family);
}

static void
expect_refused(const char *value, const char *reason)
{
    char h[64], why[200] = "";
    unsigned p;
    int fam;
    assert_int_not_equal(nlpd_config_parse_listen(value, h, sizeof(h), &p, &fam, why, sizeof(why)),
                         0);
    if (strstr(why, reason) == NULL)
        fail_msg("'%s': the reason '%s' does not say '%s'", value, why, reason);
}

static void
test_metrics_listen_takes_ip_literals_localhost_and_port_zero(void **state)
{
    (void)state;
    expect_ok("127.0.0.1:9464", "127.0.0.1", 9464, AF_INET);
    expect_ok("localhost:9464", "127.0.0.1", 9464, AF_INET);
    expect_ok("0.0.0.0:1", "0.0.0.0", 1, AF_INET);
    expect_ok("127.0.0.1:0", "127.0.0.1", 0, AF_INET);
    expect_ok("[::1]:9464", "::1", 9464, AF_INET6);
    expect_ok("[fe80::1]:65535", "fe80::1", 65535, AF_INET6);
}

static void
test_metrics_listen_refuses_names_bad_ports_and_shapes(void **state)
{
    (void)state;
    expect_refused("example.com:9464", "not a numeric IPv4");
    expect_refused("127.0.0.1", "ADDRESS:PORT");
    expect_refused("127.0.0.1:", "not a port");
    expect_refused("127.0.0.1:65536", "not a port");
    expect_refused("127.0.0.1:-1", "not a port");
    expect_refused("127.0.0.1:94x", "not a port");
    expect_refused("::1:9464", "ADDRESS:PORT");
    expect_refused("[::1]9464", "[IPV6]:PORT");
    expect_refused("[127.0.0.1]:9464", "not a numeric IPv6");
    expect_refused("999.0.0.1:80", "not a numeric IPv4");
}

static void
load_text(nlpd_config *c, const char *text, int *rc, char *why, size_t why_len)
{
    char *dir = nlpd_test_tmpdir("nlpd-metrics-conf");
    char path[600];
    snprintf(path, sizeof(path), "%s/nlpd.conf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    *rc = nlpd_config_load(c, path, why, why_len);
    unlink(path);
    rmdir(dir);
    free(dir);
}

static void
test_metrics_listen_in_a_config_file(void **state)
{
    (void)state;
    nlpd_config c;
    char why[600] = "";
    int rc;
    nlpd_config_defaults(&c, NULL);
    assert_string_equal(c.metrics_listen, ""); /* off by default */
    load_text(&c, "[daemon]\nmetrics_listen = 127.0.0.1:9464\n", &rc, why, sizeof(why));
    assert_int_equal(rc, 0);
    assert_string_equal(c.metrics_listen, "127.0.0.1:9464");
    load_text(&c, "[daemon]\nmetrics_listen = off\n", &rc, why, sizeof(why));
    assert_int_equal(rc, 0);
    assert_string_equal(c.metrics_listen, "");
    load_text(&c, "[daemon]\nlog_level = info\nmetrics_listen = 127.0.0.1:99999\n", &rc, why,
              sizeof(why));
    assert_int_not_equal(rc, 0);
    if (strstr(why, "nlpd.conf:3: metrics_listen: '99999' is not a port") == NULL)
        fail_msg("unclear: %s", why);
    nlpd_config_release(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_listen_takes_ip_literals_localhost_and_port_zero),
        cmocka_unit_test(test_metrics_listen_refuses_names_bad_ports_and_shapes),
        cmocka_unit_test(test_metrics_listen_in_a_config_file),
    };
    return cmocka_run_group_tests_name("metrics_config", tests, NULL, NULL);
}
