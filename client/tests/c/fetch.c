/*
 * A pEp-app-like caller of the directory client: fetch-if-due with a cache
 * path and a list of mirrors, then parse the document with libmixmailer.
 *
 * usage: fetch <cache> <now_unix> <trusted_key_hex> <expect_source> <mirror>...
 * Exits 0 when the call succeeded with the expected source and the
 * document parses; prints what it saw.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mixmailer.h"
#include "mixmailer_client.h"

static int hex_key(const char *hex, uint8_t out[32]) {
    if (strlen(hex) != 64) return 0;
    for (size_t i = 0; i < 32; i++) {
        unsigned int byte;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1) return 0;
        out[i] = (uint8_t)byte;
    }
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s cache now key expect_source mirror...\n", argv[0]);
        return 2;
    }
    const char *cache = argv[1];
    uint64_t now = strtoull(argv[2], NULL, 10);
    uint8_t key[32];
    if (!hex_key(argv[3], key)) return 2;
    uint32_t expected_source = (uint32_t)strtoul(argv[4], NULL, 10);
    const char *const *mirrors = (const char *const *)(argv + 5);
    size_t mirrors_len = (size_t)(argc - 5);

    uint8_t *text = NULL;
    size_t text_len = 0;
    uint64_t next = 0;
    uint32_t source = 99;

    /* A NULL out-parameter is refused and nothing is written. */
    uint32_t status = mixmailer_client_fetch_if_due(cache, mirrors, mirrors_len, key, 1, 1, now,
                                                    NULL, &text_len, &next, &source);
    if (status != MIXMAILER_CLIENT_STATUS_NULL_PARAMETER || source != 99) {
        fprintf(stderr, "NULL text: status %u\n", status);
        return 1;
    }

    status = mixmailer_client_fetch_if_due(cache, mirrors, mirrors_len, key, 1, 1, now, &text,
                                           &text_len, &next, &source);
    char detail[MIXMAILER_DETAIL_MAX];
    mixmailer_client_last_error(detail, sizeof detail);
    if (status != MIXMAILER_CLIENT_STATUS_OK) {
        printf("status %u (%s): %s\n", status, mixmailer_client_status_str(status), detail);
        return 1;
    }
    printf("source %u, %zu bytes, next fetch %llu: %s\n", source, text_len,
           (unsigned long long)next, detail);

    mixmailer_directory *directory = NULL;
    status = mixmailer_directory_parse(text, text_len, key, 1, 1, now, &directory);
    mixmailer_client_text_free(text, text_len);
    mixmailer_client_text_free(NULL, 0);
    if (status != MIXMAILER_STATUS_OK) {
        printf("document does not parse: %s\n", mixmailer_status_str(status));
        return 1;
    }
    size_t nodes = 0;
    mixmailer_directory_node_count(directory, &nodes);
    printf("%zu nodes\n", nodes);
    mixmailer_directory_free(directory);
    return (source == expected_source && next > now) ? 0 : 1;
}
