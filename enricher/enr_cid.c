/*
 * Community ID v1 (the Corelight specification): a flow hash that other
 * tools (Zeek, Suricata, Elastic) compute the same way, so a flow can be
 * found across them. SHA-1 over seed, addresses, protocol and ports with
 * the endpoints in a canonical order, base64-encoded, prefixed "1:".
 * SHA-1 and base64 come from nettle rather than being written here.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <nettle/base64.h>
#include <nettle/sha1.h>

#include "enr.h"

int
enr_community_id(int family, const uint8_t *sip, const uint8_t *dip,
    uint8_t proto, uint16_t sport, uint16_t dport, uint16_t seed, char *out,
    size_t outsz)
{
	struct sha1_ctx ctx;
	struct base64_encode_ctx b64;
	uint8_t digest[SHA1_DIGEST_SIZE], buf[2];
	size_t alen = family == 4 ? 4 : 16, n;
	const uint8_t *a1 = sip, *a2 = dip;
	uint16_t p1 = sport, p2 = dport;
	int c;

	if (outsz < 2 + BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE) + 1)
		return -1;
	/* Canonical order: the smaller (address, port) pair first. */
	c = memcmp(sip, dip, alen);
	if (c > 0 || (c == 0 && sport > dport)) {
		a1 = dip;
		a2 = sip;
		p1 = dport;
		p2 = sport;
	}
	sha1_init(&ctx);
	buf[0] = (uint8_t)(seed >> 8);
	buf[1] = (uint8_t)seed;
	sha1_update(&ctx, 2, buf);
	sha1_update(&ctx, alen, a1);
	sha1_update(&ctx, alen, a2);
	buf[0] = proto;
	buf[1] = 0;		/* padding */
	sha1_update(&ctx, 2, buf);
	buf[0] = (uint8_t)(p1 >> 8);
	buf[1] = (uint8_t)p1;
	sha1_update(&ctx, 2, buf);
	buf[0] = (uint8_t)(p2 >> 8);
	buf[1] = (uint8_t)p2;
	sha1_update(&ctx, 2, buf);
	sha1_digest(&ctx, SHA1_DIGEST_SIZE, digest);

	out[0] = '1';
	out[1] = ':';
	base64_encode_init(&b64);
	n = base64_encode_update(&b64, out + 2, SHA1_DIGEST_SIZE, digest);
	n += base64_encode_final(&b64, out + 2 + n);
	out[2 + n] = '\0';
	return 0;
}

/*
 * process.entity_id: the first 15 bytes of SHA-1 over key, in base64 (20
 * characters), enough to tell the processes of every boot apart.
 */
void
enr_entity_id(const char *key, char *out, size_t outsz)
{
	struct sha1_ctx ctx;
	uint8_t digest[SHA1_DIGEST_SIZE];
	char b64[BASE64_ENCODE_RAW_LENGTH(15) + 1];

	sha1_init(&ctx);
	sha1_update(&ctx, strlen(key), (const uint8_t *)key);
	sha1_digest(&ctx, sizeof(digest), digest);
	base64_encode_raw(b64, 15, digest);
	b64[BASE64_ENCODE_RAW_LENGTH(15)] = '\0';
	snprintf(out, outsz, "%s", b64);
}
