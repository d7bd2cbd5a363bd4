/*
 * c_api_test.c: the C API as a C program uses it, run by tests/c_api.rs
 * under AddressSanitizer/UBSan and under valgrind.
 *
 * usage: c_api_test DIRECTORY AUTHORITY_KEY NODE_KEYS NOW MESSAGE OUTDIR NICKNAME...
 *   DIRECTORY      a signed directory document
 *   AUTHORITY_KEY  the 32-byte public key of the authority that signed it
 *   NODE_KEYS      the keys of every node in directory order: its 32-byte
 *                  identity, the number N of its period keys (uint64, little
 *                  endian), N periods (uint64, little endian), N 32-byte
 *                  X25519 secret keys
 *   NOW            a time (seconds since 1970) inside the directory's validity
 *                  and key periods
 *   MESSAGE        an RFC 5322 message to send
 *   OUTDIR         receives carrier-NNN.eml (the wrapped message, for Rust
 *                  nodes), message-id.txt (the Message-ID it will carry),
 *                  delivered.eml and recipients.txt (what the C nodes
 *                  delivered) and dated.eml (delivered.eml with its Date)
 *   NICKNAME...    one node per layer, for a route by nicknames
 *
 * Every check prints a line on failure; the exit status is the number of
 * failed checks (capped at 100).
 */
#include <mixmailer.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY 86400u

/* A string literal as a byte buffer: pointer and length without the NUL. */
#define BYTES(literal) (const uint8_t *)(literal), sizeof(literal) - 1

static int failures = 0;
static int checks = 0;

#define EXPECT(cond)                                                                   \
    do {                                                                               \
        checks++;                                                                      \
        if (!(cond)) {                                                                 \
            failures++;                                                                \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);        \
        }                                                                              \
    } while (0)

/* Calls `call`, which must return `expected`. */
#define EXPECT_STATUS(call, expected)                                                  \
    do {                                                                               \
        mixmailer_status got_ = (call);                                                \
        checks++;                                                                      \
        if (got_ != (mixmailer_status)(expected)) {                                    \
            failures++;                                                                \
            fprintf(stderr, "%s:%d: %s returned %u (%s), expected %s: %s\n", __FILE__, \
                    __LINE__, #call, (unsigned)got_, mixmailer_status_str(got_),       \
                    #expected, last_detail());                                         \
        }                                                                              \
    } while (0)

/* Calls `call`, which must fail with a status of the family `family` (2 for 2xxx...). */
#define EXPECT_FAMILY(call, family)                                                    \
    do {                                                                               \
        mixmailer_status got_ = (call);                                                \
        checks++;                                                                      \
        if ((int)(got_ / 1000) != (family)) {                                          \
            failures++;                                                                \
            fprintf(stderr, "%s:%d: %s returned %u (%s), expected a %dxxx status\n",   \
                    __FILE__, __LINE__, #call, (unsigned)got_,                         \
                    mixmailer_status_str(got_), (family));                             \
        }                                                                              \
    } while (0)

static const char *last_detail(void)
{
    static char detail[MIXMAILER_DETAIL_MAX];
    size_t written = 0;
    if (mixmailer_last_error_message(detail, sizeof detail, &written) != MIXMAILER_STATUS_OK)
        strcpy(detail, "(no detail)");
    return detail;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long size;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(101);
    }
    buf = malloc((size_t)size + 1);
    if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(101);
    }
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(101);
    }
}

/* Copies a library buffer into a malloc'ed one the test owns. */
static unsigned char *take_bytes(mixmailer_bytes *bytes, size_t *len)
{
    const uint8_t *data = NULL;
    unsigned char *copy;
    EXPECT_STATUS(mixmailer_bytes_data(bytes, &data, len), MIXMAILER_STATUS_OK);
    copy = malloc(*len ? *len : 1);
    if (copy == NULL)
        exit(101);
    memcpy(copy, data, *len);
    mixmailer_bytes_free(bytes);
    return copy;
}

/* ---------------------------------------------------------------------- */

static void statuses_and_version(void)
{
    char version[64];
    char small[4];
    size_t written = 99;

    EXPECT(strcmp(mixmailer_status_str(MIXMAILER_STATUS_OK), "success") == 0);
    EXPECT(strcmp(mixmailer_status_str(12345), "unknown status") == 0);
    EXPECT(strcmp(mixmailer_status_str(UINT32_MAX), "unknown status") == 0);
    EXPECT(strcmp(mixmailer_status_str(MIXMAILER_STATUS_PANIC), "unknown status") != 0);

    snprintf(version, sizeof version, "%d.%d.%d", MIXMAILER_VERSION_MAJOR,
             MIXMAILER_VERSION_MINOR, MIXMAILER_VERSION_PATCH);
    EXPECT(strcmp(mixmailer_version(), version) == 0);

    /* The detail names the NULL argument, and a small buffer gets it cut. */
    EXPECT_STATUS(mixmailer_directory_hops(NULL, NULL), MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT(strstr(last_detail(), "`directory`") != NULL);
    EXPECT_STATUS(mixmailer_last_error_message(small, sizeof small, &written),
                  MIXMAILER_STATUS_OK);
    EXPECT(written == 3 && small[3] == '\0');
    EXPECT_STATUS(mixmailer_last_error_message(NULL, 10, &written),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_last_error_message(small, 0, &written),
                  MIXMAILER_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(mixmailer_last_error_message(small, sizeof small, NULL),
                  MIXMAILER_STATUS_NULL_PARAMETER);
}

static void freeing_null_is_fine(void)
{
    EXPECT_STATUS(mixmailer_directory_free(NULL), MIXMAILER_STATUS_OK);
    EXPECT_STATUS(mixmailer_route_free(NULL), MIXMAILER_STATUS_OK);
    EXPECT_STATUS(mixmailer_onion_list_free(NULL), MIXMAILER_STATUS_OK);
    EXPECT_STATUS(mixmailer_bytes_free(NULL), MIXMAILER_STATUS_OK);
    EXPECT_STATUS(mixmailer_node_free(NULL), MIXMAILER_STATUS_OK);
    EXPECT_STATUS(mixmailer_outcome_free(NULL), MIXMAILER_STATUS_OK);
}

/* Every pointer argument NULL in turn: NULL_PARAMETER, outputs untouched. */
static void null_arguments_are_refused(const unsigned char *text, size_t text_len,
                                       const unsigned char *authority, uint64_t now)
{
    static int marker;
    mixmailer_directory *directory = (mixmailer_directory *)&marker;
    mixmailer_route *route = (mixmailer_route *)&marker;
    mixmailer_onion_list *onions = (mixmailer_onion_list *)&marker;
    mixmailer_node *node = (mixmailer_node *)&marker;
    mixmailer_outcome *outcome = (mixmailer_outcome *)&marker;
    mixmailer_bytes *bytes = (mixmailer_bytes *)&marker;
    const char *address = "untouched";
    const uint8_t *data = (const uint8_t *)"untouched";
    size_t count = 77, count2 = 77;
    uint64_t delay = 77;
    mixmailer_outcome_kind kind = 77;
    mixmailer_drop_reason reason = 77;
    uint64_t period = 77, tags = 77;
    uint8_t key[32] = {0};
    const char *names[1] = {NULL};

    EXPECT_STATUS(mixmailer_directory_parse(NULL, text_len, authority, 1, 1, now, &directory),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_directory_parse(text, text_len, NULL, 1, 1, now, &directory),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_directory_parse(text, text_len, authority, 1, 1, now, NULL),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT(directory == (mixmailer_directory *)&marker);
    EXPECT_STATUS(mixmailer_directory_node_count(NULL, &count), MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_directory_payload_size(NULL, &count),
                  MIXMAILER_STATUS_NULL_PARAMETER);

    EXPECT_STATUS(mixmailer_route_random(NULL, &route), MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_route_from_nicknames(NULL, names, 1, &route),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_route_hops(NULL, &count), MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_route_hop_address(NULL, 0, &address),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT(route == (mixmailer_route *)&marker);

    EXPECT_STATUS(mixmailer_mix_wrap((const uint8_t *)"x", 1, NULL, &onions),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_mix_wrap_at((const uint8_t *)"x", 1, NULL, now, &onions),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_mix_wrap_at(NULL, 1, route, now, &onions),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_onion_list_message_id(NULL, &address),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_onion_list_period(NULL, &period), MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_add_date(NULL, 1, now, &bytes), MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_add_date((const uint8_t *)"x", 1, now, NULL),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_onion_list_count(NULL, &count), MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_onion_list_first_hop(NULL, 0, &address),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_onion_list_packet(NULL, 0, &data, &count),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_onion_list_carrier_email(NULL, 0, "a@b", &bytes),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_bytes_data(NULL, &data, &count), MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT(onions == (mixmailer_onion_list *)&marker);
    EXPECT(bytes == (mixmailer_bytes *)&marker);

    /* The marker handles are no handles: only pass them where the NULL
       argument is checked first. */
    EXPECT_STATUS(mixmailer_node_new(NULL, 32, &period, key, 32, 1, NULL, &node),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT(strstr(last_detail(), "`identity`") != NULL);
    EXPECT_STATUS(mixmailer_node_new(NULL, 0, NULL, NULL, 0, 0, NULL, &node),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_node_new(key, 32, NULL, key, 32, 1, NULL, &node),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT(strstr(last_detail(), "`periods`") != NULL);
    EXPECT_STATUS(mixmailer_node_new(key, 32, &period, NULL, 32, 1, NULL, &node),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT(strstr(last_detail(), "`secret_keys`") != NULL);
    EXPECT_STATUS(mixmailer_node_new(key, 32, &period, key, 32, 1, NULL, &node),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT(strstr(last_detail(), "`directory`") != NULL);
    EXPECT_STATUS(mixmailer_node_new(key, 32, NULL, NULL, 0, 0, NULL, NULL),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_node_add_key(NULL, 1, key, 32), MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_node_rotate(NULL, now, &count, &tags),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_node_address(NULL, &address), MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_node_process(NULL, (const uint8_t *)"x", 1, now, &outcome),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_node_expire(NULL, now, &count), MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT(node == (mixmailer_node *)&marker);
    EXPECT(outcome == (mixmailer_outcome *)&marker);

    EXPECT_STATUS(mixmailer_outcome_get_kind(NULL, &kind), MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_outcome_forward_address(NULL, &address),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_outcome_forward_delay_ms(NULL, &delay),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_outcome_delay_ms(NULL, &delay), MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_outcome_forward_packet(NULL, &data, &count),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_outcome_forward_carrier(NULL, "a@b", &bytes),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_outcome_deliver_recipient_count(NULL, &count),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_outcome_deliver_recipient(NULL, 0, &address),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_outcome_deliver_message(NULL, &data, &count),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_outcome_fragments(NULL, &count, &count2),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_outcome_drop_reason(NULL, &reason), MIXMAILER_STATUS_NULL_PARAMETER);

    EXPECT(strcmp(address, "untouched") == 0);
    EXPECT(strcmp((const char *)data, "untouched") == 0);
    EXPECT(count == 77 && count2 == 77 && delay == 77 && kind == 77 && reason == 77);
    EXPECT(period == 77 && tags == 77);
}

/* The directory is refused when tampered, unsigned by us, expired or misused. */
static void bad_directories_are_refused(const unsigned char *text, size_t text_len,
                                        const unsigned char *authority, uint64_t now)
{
    mixmailer_directory *directory = NULL;
    unsigned char *tampered = malloc(text_len + 1);
    unsigned char stranger[32];
    unsigned char two_keys[64];
    char *node_line;

    if (tampered == NULL)
        exit(101);
    memcpy(tampered, text, text_len + 1); /* with the NUL main() added, for strstr */
    /* Change one character of the first node's nickname: the signature breaks. */
    node_line = strstr((char *)tampered, "\nnode ");
    EXPECT(node_line != NULL);
    if (node_line != NULL) {
        node_line[6] = node_line[6] == 'X' ? 'Y' : 'X';
        EXPECT_STATUS(mixmailer_directory_parse(tampered, text_len, authority, 1, 1, now,
                                                &directory),
                      MIXMAILER_STATUS_DIRECTORY_SIGNATURE);
        EXPECT(directory == NULL);
        EXPECT(strstr(last_detail(), "line ") != NULL);
    }
    /* A version 1 directory (what an old mirror serves): a status of its own. */
    memcpy(tampered, text, text_len + 1);
    {
        char *magic = strstr((char *)tampered, "mixmailer-directory 2\n");
        EXPECT(magic == (char *)tampered);
        if (magic != NULL) {
            magic[strlen("mixmailer-directory ")] = '1';
            EXPECT_STATUS(mixmailer_directory_parse(tampered, text_len, authority, 1, 1, now,
                                                    &directory),
                          MIXMAILER_STATUS_DIRECTORY_UNSUPPORTED_VERSION);
            EXPECT(strstr(last_detail(), "version") != NULL);
        }
    }
    /* Cut in the middle: malformed. */
    EXPECT_STATUS(mixmailer_directory_parse(text, text_len / 2, authority, 1, 1, now, &directory),
                  MIXMAILER_STATUS_DIRECTORY_MALFORMED);
    EXPECT(strstr(last_detail(), "line ") != NULL);
    free(tampered);

    /* A valid Ed25519 key of someone else (RFC 8032, section 7.1, test 1). */
    memcpy(stranger,
           "\xd7\x5a\x98\x01\x82\xb1\x0a\xb7\xd5\x4b\xfe\xd3\xc9\x64\x07\x3a"
           "\x0e\xe1\x72\xf3\xda\xa6\x23\x25\xaf\x02\x1a\x68\xf7\x07\x51\x1a",
           sizeof stranger);
    EXPECT_STATUS(mixmailer_directory_parse(text, text_len, stranger, 1, 1, now, &directory),
                  MIXMAILER_STATUS_DIRECTORY_SIGNATURE);
    /* Two trusted keys and a threshold of two: one signature is not enough. */
    memcpy(two_keys, authority, 32);
    memcpy(two_keys + 32, stranger, 32);
    EXPECT_STATUS(mixmailer_directory_parse(text, text_len, two_keys, 2, 2, now, &directory),
                  MIXMAILER_STATUS_DIRECTORY_SIGNATURE);
    EXPECT_STATUS(mixmailer_directory_parse(text, text_len, authority, 1, 2, now, &directory),
                  MIXMAILER_STATUS_INVALID_ARGUMENT);
    memset(two_keys, 0, 32); /* a small-order point: never a trusted key */
    EXPECT_STATUS(mixmailer_directory_parse(text, text_len, two_keys, 1, 1, now, &directory),
                  MIXMAILER_STATUS_INVALID_ARGUMENT);
    /* Outside the validity period. */
    EXPECT_STATUS(mixmailer_directory_parse(text, text_len, authority, 1, 1, 0, &directory),
                  MIXMAILER_STATUS_DIRECTORY_NOT_VALID_NOW);
    EXPECT_STATUS(mixmailer_directory_parse(text, text_len, authority, 1, 1, UINT64_MAX,
                                            &directory),
                  MIXMAILER_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(mixmailer_directory_parse(text, text_len, authority, 1, 0, now, &directory),
                  MIXMAILER_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(mixmailer_directory_parse(NULL, 0, authority, 1, 1, now, &directory),
                  MIXMAILER_STATUS_DIRECTORY_MALFORMED);
    EXPECT(directory == NULL);
}

/* Misuse of routes, onions and nodes with a good directory. */
static void misuse_is_refused(const mixmailer_directory *directory,
                              const char *const *nicknames, size_t nickname_count, uint64_t now)
{
    mixmailer_route *route = NULL;
    mixmailer_onion_list *onions = NULL;
    mixmailer_node *node = NULL;
    mixmailer_bytes *bytes = NULL;
    const char *unknown[5] = {"no-such-node", "no-such-node", "no-such-node", "no-such-node",
                              "no-such-node"};
    const char *not_utf8[1] = {"\xff\xfe"};
    uint8_t key[33];
    const char *address = NULL;
    size_t hops = 0;

    EXPECT_STATUS(mixmailer_directory_hops(directory, &hops), MIXMAILER_STATUS_OK);
    EXPECT_STATUS(mixmailer_route_from_nicknames(directory, unknown, hops, &route),
                  MIXMAILER_STATUS_ROUTE_UNKNOWN_NICKNAME);
    EXPECT(strstr(last_detail(), "no-such-node") != NULL);
    if (nickname_count >= 2 && nickname_count <= 5) {
        /* The right nodes in the wrong order: layer 2 cannot come first. */
        const char *swapped[5];
        memcpy(swapped, nicknames, nickname_count * sizeof *swapped);
        swapped[0] = nicknames[1];
        swapped[1] = nicknames[0];
        EXPECT_STATUS(mixmailer_route_from_nicknames(directory, swapped, nickname_count, &route),
                      MIXMAILER_STATUS_ROUTE_WRONG_LAYER);
    }
    EXPECT_STATUS(mixmailer_route_from_nicknames(directory, not_utf8, 1, &route),
                  MIXMAILER_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(mixmailer_route_from_nicknames(directory, NULL, 1, &route),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_route_from_nicknames(directory, NULL, 0, &route),
                  MIXMAILER_STATUS_ROUTE_WRONG_LENGTH);
    EXPECT(route == NULL);

    EXPECT_STATUS(mixmailer_route_random(directory, &route), MIXMAILER_STATUS_OK);
    EXPECT_STATUS(mixmailer_route_hop_address(route, hops, &address),
                  MIXMAILER_STATUS_INDEX_OUT_OF_RANGE);
    EXPECT(address == NULL);

    /* An empty message, and one with neither From nor recipients. */
    EXPECT_STATUS(mixmailer_mix_wrap_at(NULL, 0, route, now, &onions),
                  MIXMAILER_STATUS_MESSAGE_EMPTY);
    EXPECT(strlen(last_detail()) > 0);
    EXPECT_STATUS(mixmailer_mix_wrap_at((const uint8_t *)"", 0, route, now, &onions),
                  MIXMAILER_STATUS_MESSAGE_EMPTY);
    EXPECT_STATUS(mixmailer_mix_wrap_at(BYTES("Subject: x\r\n\r\nhi\r\n"), route, now, &onions),
                  MIXMAILER_STATUS_MESSAGE_BAD_FROM);
    EXPECT(strstr(last_detail(), "From") != NULL);
    EXPECT_STATUS(
        mixmailer_mix_wrap_at(BYTES("From: a@b.example\r\n\r\nhi\r\n"), route, now, &onions),
        MIXMAILER_STATUS_MESSAGE_NO_RECIPIENT);
    /* The exit would refuse it: refused before it is sent. */
    EXPECT_STATUS(mixmailer_mix_wrap_at(BYTES("From: a@b.example\r\nTo: root@localhost\r\n\r\n"
                                              "hi\r\n"),
                                        route, now, &onions),
                  MIXMAILER_STATUS_MESSAGE_UNDELIVERABLE_RECIPIENT);
    EXPECT_STATUS(mixmailer_mix_wrap_at(NULL, 5, route, now, &onions),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    /* At a time the directory has no keys for (1970, the far future): nothing is built. */
    EXPECT_STATUS(mixmailer_mix_wrap_at(BYTES("From: a@example.org\r\nTo: b@example.net\r\n\r\n"
                                              "hi\r\n"),
                                        route, 0, &onions),
                  MIXMAILER_STATUS_ROUTE_NO_KEY_FOR_PERIOD);
    EXPECT(strstr(last_detail(), "period") != NULL);
    EXPECT_STATUS(mixmailer_mix_wrap_at(BYTES("From: a@example.org\r\nTo: b@example.net\r\n\r\n"
                                              "hi\r\n"),
                                        route, now + 30 * DAY, &onions),
                  MIXMAILER_STATUS_ROUTE_NO_KEY_FOR_PERIOD);
    EXPECT_STATUS(mixmailer_mix_wrap_at(BYTES("From: a@example.org\r\nTo: b@example.net\r\n\r\n"
                                              "hi\r\n"),
                                        route, UINT64_MAX, &onions),
                  MIXMAILER_STATUS_INVALID_ARGUMENT);
    /* The system clock: the sample directory's keys are long out of date. */
    if ((uint64_t)time(NULL) > now + 30 * DAY)
        EXPECT_STATUS(mixmailer_mix_wrap(BYTES("From: a@example.org\r\nTo: b@example.net\r\n"
                                               "\r\nhi\r\n"),
                                         route, &onions),
                      MIXMAILER_STATUS_ROUTE_NO_KEY_FOR_PERIOD);
    EXPECT(onions == NULL);

    /* Dating a message: empty and impossible inputs are refused. */
    EXPECT_STATUS(mixmailer_add_date(NULL, 0, now, &bytes), MIXMAILER_STATUS_MESSAGE_EMPTY);
    EXPECT_STATUS(mixmailer_add_date(BYTES("To: b@example.net\r\n\r\nhi\r\n"),
                                     253402300800u, &bytes),
                  MIXMAILER_STATUS_INVALID_ARGUMENT);
    EXPECT(bytes == NULL);
    EXPECT_STATUS(mixmailer_add_date(BYTES("To: b@example.net\r\n\r\nhi\r\n"), 0, &bytes),
                  MIXMAILER_STATUS_OK);
    {
        size_t len = 0;
        unsigned char *dated = take_bytes(bytes, &len);
        static const char expected[] =
            "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\nTo: b@example.net\r\n\r\nhi\r\n";
        EXPECT(len == sizeof expected - 1 && memcmp(dated, expected, len) == 0);
        free(dated);
        bytes = NULL;
    }

    /* A header injection through the carrier's From is refused. */
    {
        static const char message[] = "From: a@example.org\r\nTo: b@example.net\r\n\r\nhi\r\n";
        size_t count = 0;
        EXPECT_STATUS(mixmailer_mix_wrap_at((const uint8_t *)message, sizeof message - 1, route,
                                            now, &onions),
                      MIXMAILER_STATUS_OK);
        EXPECT_STATUS(mixmailer_onion_list_count(onions, &count), MIXMAILER_STATUS_OK);
        EXPECT(count >= 1);
        EXPECT_STATUS(mixmailer_onion_list_carrier_email(onions, 0, "a@example.org\r\nBcc: x@y",
                                                         &bytes),
                      MIXMAILER_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(mixmailer_onion_list_carrier_email(onions, 0, "", &bytes),
                      MIXMAILER_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(mixmailer_onion_list_carrier_email(onions, count, "a@example.org", &bytes),
                      MIXMAILER_STATUS_INDEX_OUT_OF_RANGE);
        EXPECT(bytes == NULL);
        mixmailer_onion_list_free(onions);
    }
    mixmailer_route_free(route);

    /* Identities and keys of the wrong length, and an identity the directory does not list. */
    memset(key, 7, sizeof key);
    {
        uint64_t periods[2] = {now / DAY, now / DAY};
        EXPECT_STATUS(mixmailer_node_new(key, 31, NULL, NULL, 0, 0, directory, &node),
                      MIXMAILER_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(mixmailer_node_new(key, 33, NULL, NULL, 0, 0, directory, &node),
                      MIXMAILER_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(mixmailer_node_new(key, 0, NULL, NULL, 0, 0, directory, &node),
                      MIXMAILER_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(mixmailer_node_new(key, 32, periods, key, 31, 1, directory, &node),
                      MIXMAILER_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(mixmailer_node_new(key, 32, periods, key, 32, 2, directory, &node),
                      MIXMAILER_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(mixmailer_node_new(key, 32, periods, key, 32, SIZE_MAX, directory, &node),
                      MIXMAILER_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(mixmailer_node_new(key, 32, NULL, NULL, 0, 0, directory, &node),
                      MIXMAILER_STATUS_NODE_NOT_IN_DIRECTORY);
    }
    EXPECT(node == NULL);
}

/* ---------------------------------------------------------------------- */

#define MAX_NODES 64
#define MAX_PERIODS 16

/* One node's record of the NODE_KEYS file. */
struct node_keys {
    const uint8_t *identity;
    size_t count;
    uint64_t periods[MAX_PERIODS];
    const uint8_t *secret_keys; /* count * 32 bytes */
};

static uint64_t le64(const uint8_t *bytes)
{
    uint64_t value = 0;
    int i;
    for (i = 7; i >= 0; i--)
        value = value << 8 | bytes[i];
    return value;
}

/* Splits the NODE_KEYS file into records; returns how many. */
static size_t parse_node_keys(const uint8_t *file, size_t len, struct node_keys *records,
                              size_t max)
{
    size_t n = 0, at = 0, i;
    while (at < len && n < max) {
        struct node_keys *r = &records[n];
        if (len - at < 40)
            break;
        r->identity = file + at;
        r->count = (size_t)le64(file + at + 32);
        at += 40;
        if (r->count > MAX_PERIODS || len - at < r->count * 40)
            break;
        for (i = 0; i < r->count; i++)
            r->periods[i] = le64(file + at + 8 * i);
        at += 8 * r->count;
        r->secret_keys = file + at;
        at += 32 * r->count;
        n++;
    }
    EXPECT(at == len);
    return n;
}

/* A node from its record, without the key of period `skip` (-1: all keys). */
static mixmailer_node *node_without(const struct node_keys *r, uint64_t skip,
                                    const mixmailer_directory *directory)
{
    uint64_t periods[MAX_PERIODS];
    uint8_t keys[MAX_PERIODS * 32];
    size_t i, n = 0;
    mixmailer_node *node = NULL;
    for (i = 0; i < r->count; i++) {
        if (r->periods[i] == skip)
            continue;
        periods[n] = r->periods[i];
        memcpy(keys + 32 * n, r->secret_keys + 32 * i, 32);
        n++;
    }
    EXPECT_STATUS(mixmailer_node_new(r->identity, 32, periods, keys, 32 * n, n, directory, &node),
                  MIXMAILER_STATUS_OK);
    memset(keys, 0, sizeof keys);
    return node;
}

/* The secret key of `period` in a record, or NULL. */
static const uint8_t *key_of(const struct node_keys *r, uint64_t period)
{
    size_t i;
    for (i = 0; i < r->count; i++)
        if (r->periods[i] == period)
            return r->secret_keys + 32 * i;
    return NULL;
}

struct network {
    mixmailer_node *nodes[MAX_NODES];
    const char *addresses[MAX_NODES];
    size_t count;
};

static mixmailer_node *node_for(struct network *net, const char *address)
{
    size_t i;
    for (i = 0; i < net->count; i++)
        if (strcmp(net->addresses[i], address) == 0)
            return net->nodes[i];
    return NULL;
}

/*
 * Carries one carrier email through the C nodes, hop by hop, at `now`.
 * Returns the last outcome (the caller frees it), or NULL on failure.
 */
static mixmailer_outcome *carry(struct network *net, const char *to, const unsigned char *email,
                                size_t email_len, uint64_t now)
{
    unsigned char *carrier = malloc(email_len);
    char address[256];
    size_t hop;
    if (carrier == NULL)
        exit(101);
    memcpy(carrier, email, email_len);
    snprintf(address, sizeof address, "%s", to);
    for (hop = 0; hop < 10; hop++) {
        mixmailer_node *node = node_for(net, address);
        mixmailer_outcome *outcome = NULL;
        mixmailer_outcome_kind kind = 0;
        const char *next = NULL, *own = NULL;
        mixmailer_bytes *forward = NULL;
        uint64_t delay = 0;
        mixmailer_status status;

        EXPECT(node != NULL);
        if (node == NULL)
            break;
        status = mixmailer_node_process(node, carrier, email_len, now, &outcome);
        EXPECT_STATUS(status, MIXMAILER_STATUS_OK);
        if (status != MIXMAILER_STATUS_OK)
            break;
        EXPECT_STATUS(mixmailer_outcome_get_kind(outcome, &kind), MIXMAILER_STATUS_OK);
        if (kind != MIXMAILER_OUTCOME_KIND_FORWARD) {
            free(carrier);
            return outcome;
        }
        /* Forward: the delay the sender chose, then mail it on from our own address. */
        EXPECT_STATUS(mixmailer_outcome_forward_delay_ms(outcome, &delay), MIXMAILER_STATUS_OK);
        {
            uint64_t same = 0;
            EXPECT_STATUS(mixmailer_outcome_delay_ms(outcome, &same), MIXMAILER_STATUS_OK);
            EXPECT(same == delay);
        }
        EXPECT_STATUS(mixmailer_outcome_forward_address(outcome, &next), MIXMAILER_STATUS_OK);
        EXPECT_STATUS(mixmailer_node_address(node, &own), MIXMAILER_STATUS_OK);
        EXPECT_STATUS(mixmailer_outcome_forward_carrier(outcome, own, &forward),
                      MIXMAILER_STATUS_OK);
        {
            size_t recipients = 77;
            EXPECT_STATUS(mixmailer_outcome_deliver_recipient_count(outcome, &recipients),
                          MIXMAILER_STATUS_WRONG_OUTCOME_KIND);
            EXPECT(recipients == 77);
        }
        snprintf(address, sizeof address, "%s", next);
        free(carrier);
        carrier = take_bytes(forward, &email_len);
        mixmailer_outcome_free(outcome);
    }
    free(carrier);
    return NULL;
}

/* Key periods: a node holds keys made ahead, refuses foreign ones,
   deletes old ones, and says when it lacks the key a packet needs. */
static void key_periods(const mixmailer_directory *directory, struct network *net,
                        const struct node_keys *records, size_t record_count,
                        const char *first_hop, const unsigned char *email, size_t email_len,
                        uint64_t period, uint64_t now)
{
    size_t i, first = record_count, keys_deleted = 99;
    uint64_t tags_deleted = 99;
    mixmailer_node *node;
    mixmailer_outcome *outcome = NULL;
    mixmailer_outcome_kind kind = 0;
    mixmailer_drop_reason reason = 0;
    unsigned char *copy = malloc(email_len + 1);
    char *line;

    for (i = 0; i < record_count && i < net->count; i++)
        if (strcmp(net->addresses[i], first_hop) == 0)
            first = i;
    EXPECT(first < record_count && copy != NULL);
    if (first >= record_count || copy == NULL)
        exit(101);

    /* The first hop without the key of the packet's period: a temporary failure... */
    node = node_without(&records[first], period, directory);
    EXPECT_STATUS(mixmailer_node_process(node, email, email_len, now, &outcome),
                  MIXMAILER_STATUS_NODE_MISSING_PERIOD_KEY);
    EXPECT(outcome == NULL);
    /* ...that the key, added late, cures. Another node's key is refused. */
    EXPECT_STATUS(mixmailer_node_add_key(node, period, records[(first + 1) % record_count]
                                                           .secret_keys,
                                         32),
                  MIXMAILER_STATUS_NODE_KEY_MISMATCH);
    EXPECT_STATUS(mixmailer_node_add_key(node, period, key_of(&records[first], period), 31),
                  MIXMAILER_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(mixmailer_node_add_key(node, period, NULL, 32),
                  MIXMAILER_STATUS_NULL_PARAMETER);
    EXPECT_STATUS(mixmailer_node_add_key(node, period, key_of(&records[first], period), 32),
                  MIXMAILER_STATUS_OK);
    EXPECT_STATUS(mixmailer_node_process(node, email, email_len, now, &outcome),
                  MIXMAILER_STATUS_OK);
    EXPECT_STATUS(mixmailer_outcome_get_kind(outcome, &kind), MIXMAILER_STATUS_OK);
    EXPECT(kind == MIXMAILER_OUTCOME_KIND_FORWARD);
    mixmailer_outcome_free(outcome);
    outcome = NULL;

    /* Three days later the packet's period is over: dropped, not an error. */
    EXPECT_STATUS(mixmailer_node_rotate(node, now + 3 * DAY, &keys_deleted, &tags_deleted),
                  MIXMAILER_STATUS_OK);
    EXPECT(keys_deleted >= 3);  /* the periods before now + 2 days */
    EXPECT(tags_deleted == 1);  /* the tag of the packet it forwarded */
    EXPECT_STATUS(mixmailer_node_rotate(node, now + 3 * DAY, &keys_deleted, &tags_deleted),
                  MIXMAILER_STATUS_OK);
    EXPECT(keys_deleted == 0 && tags_deleted == 0);
    EXPECT_STATUS(mixmailer_node_process(node, email, email_len, now + 3 * DAY, &outcome),
                  MIXMAILER_STATUS_OK);
    EXPECT_STATUS(mixmailer_outcome_get_kind(outcome, &kind), MIXMAILER_STATUS_OK);
    EXPECT(kind == MIXMAILER_OUTCOME_KIND_DROPPED);
    EXPECT_STATUS(mixmailer_outcome_drop_reason(outcome, &reason), MIXMAILER_STATUS_OK);
    EXPECT(reason == MIXMAILER_DROP_REASON_PERIOD_NOT_ACCEPTED);
    mixmailer_outcome_free(outcome);
    outcome = NULL;
    /* Rotating back in time restores nothing: the keys are gone. */
    EXPECT_STATUS(mixmailer_node_process(node, email, email_len, now, &outcome),
                  MIXMAILER_STATUS_NODE_MISSING_PERIOD_KEY);
    mixmailer_node_free(node);

    /* A carrier without its Period line, or with a bad one, is refused. */
    memcpy(copy, email, email_len);
    copy[email_len] = '\0';
    line = strstr((char *)copy, "\r\nPeriod: ");
    EXPECT(line != NULL);
    if (line != NULL) {
        line[strlen("\r\nPeriod: ")] = 'x';
        EXPECT_STATUS(mixmailer_node_process(net->nodes[first], copy, email_len, now, &outcome),
                      MIXMAILER_STATUS_CARRIER_BAD_PERIOD);
        line[2] = 'Q';
        EXPECT_STATUS(mixmailer_node_process(net->nodes[first], copy, email_len, now, &outcome),
                      MIXMAILER_STATUS_CARRIER_MISSING_PERIOD);
        EXPECT(outcome == NULL);
    }
    free(copy);
}

/* The whole trip in C: wrap by nicknames, process at C nodes, deliver. */
static void message_goes_through_c_nodes(const mixmailer_directory *directory,
                                         const unsigned char *node_keys, size_t keys_len,
                                         const char *const *nicknames, size_t nickname_count,
                                         const unsigned char *message, size_t message_len,
                                         const char *outdir, uint64_t now)
{
    struct network net;
    struct node_keys records[MAX_NODES];
    mixmailer_route *route = NULL;
    mixmailer_onion_list *onions = NULL;
    const char *message_id = NULL;
    unsigned char *first_email = NULL;
    size_t first_len = 0;
    const char *first_hop0 = NULL;
    uint64_t period = 0;
    size_t i, count = 0, hops = 0, node_count = 0, delivered = 0, record_count;

    memset(&net, 0, sizeof net);
    record_count = parse_node_keys(node_keys, keys_len, records, MAX_NODES);
    EXPECT_STATUS(mixmailer_directory_node_count(directory, &node_count), MIXMAILER_STATUS_OK);
    EXPECT(node_count == record_count && node_count >= 2);
    for (i = 0; i < record_count; i++) {
        const struct node_keys *r = &records[i];
        if (i == 0 && r->count >= 2) {
            /* Node 0 gets its last key later, as keys made ahead arrive. */
            net.nodes[i] = node_without(r, r->periods[r->count - 1], directory);
            EXPECT_STATUS(mixmailer_node_add_key(net.nodes[i], r->periods[r->count - 1],
                                                 r->secret_keys + 32 * (r->count - 1), 32),
                          MIXMAILER_STATUS_OK);
        } else {
            EXPECT_STATUS(mixmailer_node_new(r->identity, 32, r->periods, r->secret_keys,
                                             32 * r->count, r->count, directory, &net.nodes[i]),
                          MIXMAILER_STATUS_OK);
        }
        EXPECT_STATUS(mixmailer_node_address(net.nodes[i], &net.addresses[i]),
                      MIXMAILER_STATUS_OK);
    }
    net.count = i;
    /* A repeated period would hide a key: refused. */
    if (records[0].count >= 2) {
        uint64_t twice[2];
        uint8_t keys[64];
        mixmailer_node *node = NULL;
        twice[0] = twice[1] = records[0].periods[0];
        memcpy(keys, records[0].secret_keys, 32);
        memcpy(keys + 32, records[0].secret_keys, 32);
        EXPECT_STATUS(mixmailer_node_new(records[0].identity, 32, twice, keys, 64, 2, directory,
                                         &node),
                      MIXMAILER_STATUS_INVALID_ARGUMENT);
        EXPECT(node == NULL);
        memset(keys, 0, sizeof keys);
    }

    EXPECT_STATUS(mixmailer_route_from_nicknames(directory, nicknames, nickname_count, &route),
                  MIXMAILER_STATUS_OK);
    EXPECT_STATUS(mixmailer_route_hops(route, &hops), MIXMAILER_STATUS_OK);
    EXPECT(hops == nickname_count);
    EXPECT_STATUS(mixmailer_mix_wrap_at(message, message_len, route, now, &onions),
                  MIXMAILER_STATUS_OK);
    mixmailer_route_free(route);
    EXPECT_STATUS(mixmailer_onion_list_count(onions, &count), MIXMAILER_STATUS_OK);
    EXPECT(count >= 1);
    /* The sender stores its copy under the Message-ID the recipients will see. */
    EXPECT_STATUS(mixmailer_onion_list_message_id(onions, &message_id), MIXMAILER_STATUS_OK);
    EXPECT(message_id != NULL && message_id[0] == '<' &&
           message_id[strlen(message_id) - 1] == '>');
    if (message_id != NULL) {
        char line[1024];
        snprintf(line, sizeof line, "%s\n", message_id);
        write_file(outdir, "message-id.txt", line, strlen(line));
    }
    /* Built for the key period of `now` (one-day periods since 1970). */
    EXPECT_STATUS(mixmailer_onion_list_period(onions, &period), MIXMAILER_STATUS_OK);
    EXPECT(period == now / DAY);

    for (i = 0; i < count; i++) {
        const char *first_hop = NULL;
        const uint8_t *packet = NULL;
        size_t packet_len = 0, email_len = 0, payload_size = 0;
        mixmailer_bytes *bytes = NULL;
        unsigned char *email;
        mixmailer_outcome *outcome;
        mixmailer_outcome_kind kind = 0;
        char name[64];

        EXPECT_STATUS(mixmailer_onion_list_first_hop(onions, i, &first_hop), MIXMAILER_STATUS_OK);
        EXPECT_STATUS(mixmailer_onion_list_packet(onions, i, &packet, &packet_len),
                      MIXMAILER_STATUS_OK);
        EXPECT_STATUS(mixmailer_directory_payload_size(directory, &payload_size),
                      MIXMAILER_STATUS_OK);
        EXPECT(packet_len == 348 + payload_size);
        EXPECT_STATUS(mixmailer_onion_list_carrier_email(onions, i, "alice@example.org", &bytes),
                      MIXMAILER_STATUS_OK);
        email = take_bytes(bytes, &email_len);
        snprintf(name, sizeof name, "carrier-%03u.eml", (unsigned)i);
        write_file(outdir, name, email, email_len);
        if (i == 0) {
            first_email = malloc(email_len);
            if (first_email == NULL)
                exit(101);
            memcpy(first_email, email, email_len);
            first_len = email_len;
            first_hop0 = first_hop;
        }

        outcome = carry(&net, first_hop, email, email_len, now);
        EXPECT(outcome != NULL);
        if (outcome != NULL &&
            mixmailer_outcome_get_kind(outcome, &kind) == MIXMAILER_STATUS_OK &&
            kind == MIXMAILER_OUTCOME_KIND_DELIVER) {
            const uint8_t *text = NULL;
            size_t text_len = 0, recipients = 0, r;
            uint64_t delay = 77;
            mixmailer_bytes *dated = NULL;
            FILE *list;
            char path[4096];
            delivered++;
            EXPECT_STATUS(mixmailer_outcome_deliver_message(outcome, &text, &text_len),
                          MIXMAILER_STATUS_OK);
            write_file(outdir, "delivered.eml", text, text_len);
            /* The exit holds it for a delay of its own, then dates and submits it. */
            EXPECT_STATUS(mixmailer_outcome_forward_delay_ms(outcome, &delay),
                          MIXMAILER_STATUS_WRONG_OUTCOME_KIND);
            EXPECT(delay == 77);
            EXPECT_STATUS(mixmailer_outcome_delay_ms(outcome, &delay), MIXMAILER_STATUS_OK);
            EXPECT(delay != 77 && delay <= (uint64_t)DAY * 1000 / 2);
            EXPECT_STATUS(mixmailer_add_date(text, text_len, now, &dated), MIXMAILER_STATUS_OK);
            {
                size_t dated_len = 0;
                unsigned char *copy = take_bytes(dated, &dated_len);
                write_file(outdir, "dated.eml", copy, dated_len);
                free(copy);
            }
            EXPECT_STATUS(mixmailer_outcome_deliver_recipient_count(outcome, &recipients),
                          MIXMAILER_STATUS_OK);
            snprintf(path, sizeof path, "%s/recipients.txt", outdir);
            list = fopen(path, "wb");
            for (r = 0; list != NULL && r < recipients; r++) {
                const char *rcpt = NULL;
                EXPECT_STATUS(mixmailer_outcome_deliver_recipient(outcome, r, &rcpt),
                              MIXMAILER_STATUS_OK);
                if (rcpt != NULL)
                    fprintf(list, "%s\n", rcpt);
            }
            EXPECT(list != NULL && fclose(list) == 0);
            {
                const char *beyond = NULL;
                EXPECT_STATUS(mixmailer_outcome_deliver_recipient(outcome, recipients, &beyond),
                              MIXMAILER_STATUS_INDEX_OUT_OF_RANGE);
                EXPECT(beyond == NULL);
            }
        } else if (outcome != NULL && kind == MIXMAILER_OUTCOME_KIND_FRAGMENT_HELD) {
            size_t have = 0, need = 0;
            uint64_t delay = 77;
            EXPECT_STATUS(mixmailer_outcome_fragments(outcome, &have, &need), MIXMAILER_STATUS_OK);
            EXPECT(have >= 1 && have < need);
            EXPECT_STATUS(mixmailer_outcome_delay_ms(outcome, &delay),
                          MIXMAILER_STATUS_WRONG_OUTCOME_KIND);
            EXPECT(delay == 77);
        } else if (outcome != NULL && kind == MIXMAILER_OUTCOME_KIND_DROPPED) {
            mixmailer_drop_reason reason = 0;
            /* Surplus parity fragments after the delivery are dropped. */
            EXPECT_STATUS(mixmailer_outcome_drop_reason(outcome, &reason), MIXMAILER_STATUS_OK);
            EXPECT(reason == MIXMAILER_DROP_REASON_ALREADY_DELIVERED);
            EXPECT(delivered == 1);
        }
        mixmailer_outcome_free(outcome);

        if (i == 0) {
            /* The same carrier again: the first node drops the replay. */
            mixmailer_outcome *replay = NULL;
            mixmailer_drop_reason reason = 0;
            mixmailer_node *first = node_for(&net, first_hop);
            EXPECT_STATUS(mixmailer_node_process(first, email, email_len, now, &replay),
                          MIXMAILER_STATUS_OK);
            EXPECT_STATUS(mixmailer_outcome_get_kind(replay, &kind), MIXMAILER_STATUS_OK);
            EXPECT(kind == MIXMAILER_OUTCOME_KIND_DROPPED);
            EXPECT_STATUS(mixmailer_outcome_drop_reason(replay, &reason), MIXMAILER_STATUS_OK);
            EXPECT(reason == MIXMAILER_DROP_REASON_REPLAY);
            {
                uint64_t delay = 77;
                EXPECT_STATUS(mixmailer_outcome_forward_delay_ms(replay, &delay),
                              MIXMAILER_STATUS_WRONG_OUTCOME_KIND);
                EXPECT(delay == 77);
            }
            mixmailer_outcome_free(replay);
            /* Still a replay in the next key period (the tag is kept for it). */
            replay = NULL;
            EXPECT_STATUS(mixmailer_node_process(first, email, email_len, now + DAY, &replay),
                          MIXMAILER_STATUS_OK);
            EXPECT_STATUS(mixmailer_outcome_drop_reason(replay, &reason), MIXMAILER_STATUS_OK);
            EXPECT(reason == MIXMAILER_DROP_REASON_REPLAY);
            mixmailer_outcome_free(replay);

            /* A flipped character in the packet: refused, nothing delivered. */
            {
                char *begin = strstr((char *)email, "-----BEGIN MIXMAILER PACKET-----\r\n");
                mixmailer_outcome *tampered = NULL;
                EXPECT(begin != NULL);
                if (begin != NULL) {
                    char *c = begin + strlen("-----BEGIN MIXMAILER PACKET-----\r\n") + 100;
                    *c = *c == 'A' ? 'B' : 'A';
                    EXPECT_FAMILY(mixmailer_node_process(first, email, email_len, now, &tampered),
                                  6);
                    /* Cut before the END line: the carrier is unreadable. */
                    EXPECT_STATUS(mixmailer_node_process(first, email,
                                                         (size_t)(c - (char *)email), now,
                                                         &tampered),
                                  MIXMAILER_STATUS_CARRIER_UNTERMINATED);
                    EXPECT_STATUS(mixmailer_node_process(first, email, 0, now, &tampered),
                                  MIXMAILER_STATUS_CARRIER_NO_PACKET);
                    EXPECT(tampered == NULL);
                }
            }
        }
        free(email);
    }
    EXPECT(delivered == 1);
    {
        size_t dropped = 99;
        EXPECT_STATUS(mixmailer_node_expire(net.nodes[0], now, &dropped), MIXMAILER_STATUS_OK);
        EXPECT(dropped == 0);
    }
    if (first_email != NULL && first_hop0 != NULL)
        key_periods(directory, &net, records, record_count, first_hop0, first_email, first_len,
                    period, now);
    free(first_email);
    mixmailer_onion_list_free(onions);
    for (i = 0; i < net.count; i++)
        mixmailer_node_free(net.nodes[i]);
}

int main(int argc, char **argv)
{
    unsigned char *text, *authority, *node_keys, *message;
    size_t text_len, authority_len, keys_len, message_len;
    mixmailer_directory *directory = NULL;
    uint64_t now;

    if (argc < 8) {
        fprintf(stderr,
                "usage: %s DIRECTORY AUTHORITY_KEY NODE_KEYS NOW MESSAGE OUTDIR NICKNAME...\n",
                argv[0]);
        return 101;
    }
    text = read_file(argv[1], &text_len);
    text[text_len] = '\0'; /* for strstr in the tampering test; not passed to the library */
    authority = read_file(argv[2], &authority_len);
    node_keys = read_file(argv[3], &keys_len);
    now = strtoull(argv[4], NULL, 10);
    message = read_file(argv[5], &message_len);
    EXPECT(authority_len == MIXMAILER_KEY_LEN);

    statuses_and_version();
    freeing_null_is_fine();
    null_arguments_are_refused(text, text_len, authority, now);
    bad_directories_are_refused(text, text_len, authority, now);

    EXPECT_STATUS(mixmailer_directory_parse(text, text_len, authority, 1, 1, now, &directory),
                  MIXMAILER_STATUS_OK);
    if (directory != NULL) {
        misuse_is_refused(directory, (const char *const *)(argv + 7), (size_t)(argc - 7), now);
        message_goes_through_c_nodes(directory, node_keys, keys_len,
                                     (const char *const *)(argv + 7), (size_t)(argc - 7),
                                     message, message_len, argv[6], now);
    }
    mixmailer_directory_free(directory);
    free(text);
    free(authority);
    free(node_keys);
    free(message);

    printf("%d checks, %d failed\n", checks, failures);
    return failures > 100 ? 100 : failures;
}
