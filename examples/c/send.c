/*
 * send.c: the pEp engine's outgoing path through MixMailer.
 *
 * In the engine, encrypt_message() produces a message, mime_encode_message()
 * turns it into RFC 5322 text, and the app's messageToSend callback hands it
 * to SMTP. With MixMailer in between, that text is wrapped into onions and
 * the SMTP sender gets one carrier email per packet instead, each addressed
 * to the first mix node of a fresh random route.
 *
 * The wrapped message gets a fresh Message-ID (the engine's own would link
 * the delivered message to the sender's machine). The engine must store its
 * sent copy under the new one, or the recipients' replies will not thread:
 * see store_sent_copy() below.
 *
 * usage: send DIRECTORY TRUSTED_KEYS NOW MESSAGE FROM OUTDIR
 *   DIRECTORY     the signed directory document (as fetched)
 *   TRUSTED_KEYS  the authorities' Ed25519 public keys, 32 raw bytes each
 *   NOW           the current time in seconds since 1970 ("now" for time(NULL));
 *                 it picks the directory and the nodes' key period
 *   OUTDIR        where the "SMTP sender" writes carrier-NNN.eml files and
 *                 the "engine" its sent copy, sent-copy.txt
 *   MESSAGE       the message as mime_encode_message() produced it
 *   FROM          the sender's mailbox (envelope sender of the carriers)
 *
 * Build: see examples/c/Makefile or docs/c-api.md.
 */
#include <mixmailer.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The slice of pEp's PEP_STATUS this program needs (pEpEngine.h has them all). */
typedef enum {
    PEP_STATUS_OK = 0,
    PEP_CANNOT_ENCODE = 0x0803,
    PEP_ILLEGAL_VALUE = -4,
    PEP_RECORD_NOT_FOUND = -6,
    PEP_UNKNOWN_ERROR = -1
} PEP_STATUS;

/* The mapping of docs/c-api.md, reduced to what an outgoing path returns. */
static PEP_STATUS pep_status_of(mixmailer_status status)
{
    if (status == MIXMAILER_STATUS_OK)
        return PEP_STATUS_OK;
    if (status == MIXMAILER_STATUS_NULL_PARAMETER || status == MIXMAILER_STATUS_INVALID_ARGUMENT)
        return PEP_ILLEGAL_VALUE;
    if (status / 1000 == 4) /* 4xxx: the message itself could not be wrapped */
        return PEP_CANNOT_ENCODE;
    /* The directory has no keys for now: fetch a current directory, then retry. */
    if (status == MIXMAILER_STATUS_ROUTE_NO_KEY_FOR_PERIOD ||
        status == MIXMAILER_STATUS_DIRECTORY_NOT_VALID_NOW ||
        status == MIXMAILER_STATUS_DIRECTORY_UNSUPPORTED_VERSION)
        return PEP_RECORD_NOT_FOUND;
    return PEP_UNKNOWN_ERROR;
}

/* Reports a failed call with its status and the library's detail. */
static PEP_STATUS fail(const char *what, mixmailer_status status)
{
    char detail[MIXMAILER_DETAIL_MAX];
    size_t written = 0;
    if (mixmailer_last_error_message(detail, sizeof detail, &written) != MIXMAILER_STATUS_OK)
        detail[0] = '\0';
    fprintf(stderr, "send: %s failed: %s (%u): %s\n", what, mixmailer_status_str(status),
            (unsigned)status, detail);
    return pep_status_of(status);
}

/* Reads a whole file; the caller frees *data. Returns 0 on success. */
static int read_file(const char *path, unsigned char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t used = 0, cap = 0;
    if (f == NULL) {
        fprintf(stderr, "send: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        size_t n;
        if (used == cap) {
            unsigned char *bigger;
            cap = cap ? cap * 2 : 4096;
            bigger = realloc(buf, cap);
            if (bigger == NULL) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = bigger;
        }
        n = fread(buf + used, 1, cap - used, f);
        used += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "send: cannot read %s\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    *data = buf;
    *len = used;
    return 0;
}

/*
 * Stands in for the app's SMTP sender: one email, envelope from `from`,
 * envelope recipient `to`. Here it writes OUTDIR/carrier-NNN.eml.
 */
static int smtp_send(const char *outdir, size_t index, const char *from, const char *to,
                     const uint8_t *email, size_t email_len)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/carrier-%03u.eml", outdir, (unsigned)index);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(email, 1, email_len, f) != email_len) {
        fprintf(stderr, "send: cannot write %s\n", path);
        if (f != NULL)
            fclose(f);
        return -1;
    }
    if (fclose(f) != 0)
        return -1;
    printf("MAIL FROM:<%s> RCPT TO:<%s> %u bytes -> %s\n", from, to, (unsigned)email_len, path);
    return 0;
}

/*
 * Stands in for the engine saving its copy of the sent message. In pEp the
 * message struct's `id` is what the Sent folder and the threading of
 * replies use: set it to the Message-ID MixMailer gave the delivered
 * message (without its angle brackets) before the app stores the sent
 * copy, e.g.
 *     free(msg->id); msg->id = strndup(message_id + 1, strlen(message_id) - 2);
 * Here it prints it and writes OUTDIR/sent-copy.txt.
 */
static int store_sent_copy(const char *outdir, const char *message_id)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/sent-copy.txt", outdir);
    f = fopen(path, "wb");
    if (f == NULL || fprintf(f, "Message-ID: %s\n", message_id) < 0) {
        fprintf(stderr, "send: cannot write %s\n", path);
        if (f != NULL)
            fclose(f);
        return -1;
    }
    if (fclose(f) != 0)
        return -1;
    printf("Sent copy stored under Message-ID %s -> %s\n", message_id, path);
    return 0;
}

/* The outgoing path: mimetext in, carrier emails out. */
static PEP_STATUS send_through_mixnet(const mixmailer_directory *directory, const char *from,
                                      const unsigned char *mimetext, size_t mimetext_len,
                                      uint64_t now, const char *outdir)
{
    mixmailer_route *route = NULL;
    mixmailer_onion_list *onions = NULL;
    mixmailer_status status;
    PEP_STATUS result = PEP_STATUS_OK;
    size_t count = 0, i;

    /* A fresh route for every message, so messages cannot be linked by route. */
    status = mixmailer_route_random(directory, &route);
    if (status != MIXMAILER_STATUS_OK)
        return fail("mixmailer_route_random", status);

    /* mixmailer_mix_wrap() does the same with the system clock. */
    status = mixmailer_mix_wrap_at(mimetext, mimetext_len, route, now, &onions);
    if (status != MIXMAILER_STATUS_OK)
        result = fail("mixmailer_mix_wrap_at", status);
    mixmailer_route_free(route); /* the onions do not need the route */
    if (result != PEP_STATUS_OK)
        return result;

    status = mixmailer_onion_list_count(onions, &count);
    for (i = 0; status == MIXMAILER_STATUS_OK && i < count; i++) {
        const char *first_hop = NULL;
        mixmailer_bytes *email = NULL;
        const uint8_t *data = NULL;
        size_t len = 0;

        status = mixmailer_onion_list_first_hop(onions, i, &first_hop);
        if (status == MIXMAILER_STATUS_OK)
            status = mixmailer_onion_list_carrier_email(onions, i, from, &email);
        if (status == MIXMAILER_STATUS_OK)
            status = mixmailer_bytes_data(email, &data, &len);
        if (status == MIXMAILER_STATUS_OK &&
            smtp_send(outdir, i, from, first_hop, data, len) != 0)
            result = PEP_UNKNOWN_ERROR;
        mixmailer_bytes_free(email);
        if (result != PEP_STATUS_OK)
            break;
    }
    if (status != MIXMAILER_STATUS_OK)
        result = fail("reading the onions", status);
    if (result == PEP_STATUS_OK) {
        /* Borrowed from `onions`: copy it before mixmailer_onion_list_free. */
        const char *message_id = NULL;
        status = mixmailer_onion_list_message_id(onions, &message_id);
        if (status != MIXMAILER_STATUS_OK)
            result = fail("mixmailer_onion_list_message_id", status);
        else if (store_sent_copy(outdir, message_id) != 0)
            result = PEP_UNKNOWN_ERROR;
    }
    mixmailer_onion_list_free(onions);
    return result;
}

int main(int argc, char **argv)
{
    unsigned char *directory_text = NULL, *trusted = NULL, *mimetext = NULL;
    size_t directory_len = 0, trusted_len = 0, mimetext_len = 0;
    mixmailer_directory *directory = NULL;
    mixmailer_status status;
    PEP_STATUS result = PEP_UNKNOWN_ERROR;
    unsigned long long now;

    if (argc != 7) {
        fprintf(stderr, "usage: %s DIRECTORY TRUSTED_KEYS NOW MESSAGE FROM OUTDIR\n", argv[0]);
        return 2;
    }
    if (strcmp(mixmailer_version(), "") == 0)
        return 2;
    now = strcmp(argv[3], "now") == 0 ? (unsigned long long)time(NULL)
                                       : strtoull(argv[3], NULL, 10);

    if (read_file(argv[1], &directory_text, &directory_len) != 0 ||
        read_file(argv[2], &trusted, &trusted_len) != 0 ||
        read_file(argv[4], &mimetext, &mimetext_len) != 0)
        goto out;
    if (trusted_len == 0 || trusted_len % MIXMAILER_KEY_LEN != 0) {
        fprintf(stderr, "send: %s must hold 32-byte keys\n", argv[2]);
        goto out;
    }

    /* In the engine this happens once per directory download, not per message. */
    status = mixmailer_directory_parse(directory_text, directory_len, trusted,
                                       trusted_len / MIXMAILER_KEY_LEN, 1, now, &directory);
    if (status != MIXMAILER_STATUS_OK) {
        result = fail("mixmailer_directory_parse", status);
        goto out;
    }

    result = send_through_mixnet(directory, argv[5], mimetext, mimetext_len, (uint64_t)now,
                                 argv[6]);

out:
    mixmailer_directory_free(directory);
    free(directory_text);
    free(trusted);
    free(mimetext);
    return result == PEP_STATUS_OK ? 0 : 1;
}
