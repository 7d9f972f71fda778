/*
 * A hostile peer for tests/live/hostile.sh.
 *
 *   hostile enricher SOCKET	as the aggregator towards the enricher: each
 *				case is a connection with bad frames, which
 *				the enricher must close (and keep serving);
 *				then one good connection that sends a flow
 *				and a stats frame and stays open until the
 *				enricher is stopped.
 *   hostile aggregator SOCKET	as the probe towards the aggregator: a hello
 *				and then a malformed frame.
 *   hostile inflight SOCKET	as aggregators towards the enricher: flows
 *				announced open, and aggregators that go away
 *				(see inflight()).
 *
 * Prints "ok: CASE" for each case that went as it must, "FAIL: CASE ..."
 * otherwise; exits 1 when any failed.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "msg.h"

static int failed;

static int
dial(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		perror(path);
		exit(1);
	}
	return fd;
}

/* Write all of it; a peer that closed early is not an error here. */
static void
put(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, b, n, MSG_NOSIGNAL)) <= 0)
			return;
		b += w;
		n -= (size_t)w;
	}
}

/*
 * Takes the length by pointer: in put_frame(fd, msg_encode_x(..., &len),
 * len) the length could be read before the encoder has set it.
 */
static void
put_frame(int fd, uint8_t *frame, const size_t *lenp)
{
	size_t len = *lenp;

	if (frame == NULL) {
		fprintf(stderr, "cannot encode a frame\n");
		exit(1);
	}
	put(fd, frame, len);
	free(frame);
}

static void
hello_of(int fd, const char *component, uint64_t instance)
{
	struct msg_hello h;
	size_t len;

	memset(&h, 0, sizeof(h));
	h.instance = instance;
	h.protocol_version = FRAME_VERSION;
	snprintf(h.component, sizeof(h.component), "%s", component);
	snprintf(h.software_version, sizeof(h.software_version), "hostile");
	h.pid = (uint32_t)getpid();
	snprintf(h.backend, sizeof(h.backend), "tracepoint");
	put_frame(fd, msg_encode_hello(&h, &len), &len);
}

static void
hello(int fd, const char *component)
{
	hello_of(fd, component, 0);
}

static void
flow(struct msg_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->family = 4;
	f->transport = 6;
	f->direction = FLOW_DIR_OUTBOUND;
	memcpy(f->local.ip, "\x0a\x0b\x0c\x01", 4);
	memcpy(f->remote.ip, "\x0a\x0b\x0c\x02", 4);
	f->local.port = 40001;
	f->remote.port = 4242;
	f->local.bytes = 12345;
	f->start_ns = 1700000000000000000LL;
	f->end_ns = f->start_ns + 1000;
	f->final = true;
	f->local_ip_known = f->remote_known = true;
}

/* Did the peer close the connection within two seconds? */
static int
closed_by_peer(int fd)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	char buf[4096];
	ssize_t n;
	int i;

	for (i = 0; i < 20; i++) {
		if (poll(&pfd, 1, 100) == 1) {
			n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n == 0 || (n == -1 && errno == ECONNRESET))
				return 1;
			if (n > 0)
				return 0;	/* data flows downhill only */
		}
	}
	return 0;
}

static void
expect_closed(int fd, const char *what)
{
	if (closed_by_peer(fd))
		printf("ok: %s: connection closed\n", what);
	else {
		printf("FAIL: %s: connection still open\n", what);
		failed = 1;
	}
	close(fd);
}

static void
enricher(const char *path)
{
	uint8_t hdr[FRAME_HDR_LEN], junk[4096], *frame;
	struct msg_flow f;
	struct msg_stats st;
	struct msg_counter c = { "hostile_counter", 7 };
	size_t len, i;
	int fd, fd2;

	srandom(42);
	/* 1. Bytes that are no frame at all. */
	fd = dial(path);
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)random();
	put(fd, junk, sizeof(junk));
	expect_closed(fd, "random bytes");

	/* 2. A flow before the hello. */
	fd = dial(path);
	flow(&f);
	put_frame(fd, msg_encode_flow(&f, &len), &len);
	expect_closed(fd, "flow before hello");

	/* 3. A frame of a type that does not exist. */
	fd = dial(path);
	hello(fd, "aggregator");
	frame_hdr_encode(hdr, 99, 4);
	put(fd, hdr, sizeof(hdr));
	put(fd, "abcd", 4);
	expect_closed(fd, "unknown frame type");

	/* 4. A frame that says it is 512 MiB long. */
	fd = dial(path);
	hello(fd, "aggregator");
	frame_hdr_encode(hdr, FRAME_FLOW, 512U * 1024 * 1024);
	put(fd, hdr, sizeof(hdr));
	expect_closed(fd, "oversized frame");

	/* 5. A flow whose protobuf is cut short (the header's length is). */
	fd = dial(path);
	hello(fd, "aggregator");
	flow(&f);
	frame = msg_encode_flow(&f, &len);
	if (frame == NULL)
		exit(1);
	frame_hdr_encode(frame, FRAME_FLOW, (uint32_t)(len - FRAME_HDR_LEN - 3));
	put(fd, frame, len - 3);
	free(frame);
	expect_closed(fd, "truncated flow");

	/* 6. A frame of another protocol version. */
	fd = dial(path);
	frame_hdr_encode(hdr, FRAME_HELLO, 4);
	hdr[4] = 0x7f;
	put(fd, hdr, sizeof(hdr));
	put(fd, "abcd", 4);
	expect_closed(fd, "unknown version");

	/* 7. A flood of good flows, then one whose times are impossible. */
	fd = dial(path);
	hello(fd, "aggregator");
	for (i = 0; i < 20000; i++) {
		flow(&f);
		f.local.port = (uint16_t)(10000 + i % 50000);
		put_frame(fd, msg_encode_flow(&f, &len), &len);
	}
	flow(&f);
	f.end_ns = f.start_ns - 1;
	put_frame(fd, msg_encode_flow(&f, &len), &len);
	expect_closed(fd, "flood, then a flow ending before it starts");

	/* 8. Two at once: the second is refused, the first goes on. */
	fd = dial(path);
	hello(fd, "aggregator");
	usleep(200000);
	fd2 = dial(path);
	expect_closed(fd2, "second connection");

	/* 9. The first sends a good flow and stats, and stays. */
	flow(&f);
	f.local.port = 40999;
	put_frame(fd, msg_encode_flow(&f, &len), &len);
	/* The enricher writes stats at most once a second (its option). */
	sleep(2);
	memset(&st, 0, sizeof(st));
	snprintf(st.component, sizeof(st.component), "aggregator");
	st.v = &c;
	st.n = 1;
	put_frame(fd, msg_encode_stats(&st, &len), &len);
	if (closed_by_peer(fd)) {
		printf("FAIL: good connection closed\n");
		failed = 1;
	} else
		printf("ok: good connection served\n");
	/* Held until the enricher stops (the script kills this program). */
	if (!failed)
		pause();
}

/* A record of flow id on port: a notice, an interim, final or gone one. */
static void
put_flow(int fd, uint64_t id, uint16_t port, int open, int final, int gone)
{
	struct msg_flow f;
	size_t len;

	flow(&f);
	f.flow_id = id;
	f.local.port = port;
	f.open = open;
	f.final = final;
	f.gone = gone;
	put_frame(fd, msg_encode_flow(&f, &len), &len);
}

/* Aggregator instance says hello and sends one record; its connection. */
static int
one_flow(const char *path, uint64_t instance, uint64_t id, uint16_t port,
    int open, int final, int gone)
{
	int fd = dial(path);

	hello_of(fd, "aggregator", instance);
	put_flow(fd, id, port, open, final, gone);
	return fd;
}

/* Goes away, once what it sent has had time to be read. */
static void
leave(int fd)
{
	usleep(300000);
	close(fd);
}

/*
 * As aggregators towards the enricher, its flows in flight: what the
 * enricher writes when an aggregator goes away, and when not. The ports
 * tell the flows apart (hostile.sh checks what was written):
 *  41001 announced, dropped (a bad frame), its final record after the
 *        same aggregator comes back: written once, final;
 *  41002 announced, never ended; that aggregator goes away and another
 *        comes: written once, as the dead one's (aggregator_lost);
 *  41003 announced, then its last record given up (gone): written once;
 *  42001 announced by an aggregator that stops cleanly: not written;
 *  43001 announced by one that goes away and none comes after: written
 *        (aggregator_lost) after the enricher's wait.
 */
static void
inflight(const char *path)
{
	uint8_t hdr[FRAME_HDR_LEN];
	struct msg_stats st;
	struct msg_counter c = { "hostile_counter", 1 };
	size_t len;
	int fd;

	fd = dial(path);
	hello_of(fd, "aggregator", 1);
	put_flow(fd, 101, 41001, 1, 0, 0);
	put_flow(fd, 102, 41002, 1, 0, 0);
	put_flow(fd, 103, 41003, 1, 0, 0);
	put_flow(fd, 103, 41003, 0, 0, 1);
	frame_hdr_encode(hdr, 99, 4);
	put(fd, hdr, sizeof(hdr));
	put(fd, "abcd", 4);
	expect_closed(fd, "in flight: a bad frame");
	/* The same aggregator again: nothing of the first is orphaned. */
	leave(one_flow(path, 1, 101, 41001, 0, 1, 1));
	/* Another one: the first is dead. */
	usleep(300000);
	fd = one_flow(path, 2, 201, 42001, 1, 0, 0);
	memset(&st, 0, sizeof(st));
	snprintf(st.component, sizeof(st.component), "aggregator");
	st.v = &c;
	st.n = 1;
	st.last = true;
	put_frame(fd, msg_encode_stats(&st, &len), &len);
	leave(fd);
	/* One that goes away with no successor. */
	usleep(300000);
	leave(one_flow(path, 3, 301, 43001, 1, 0, 0));
	printf("ok: in flight: sent\n");
}

static void
aggregator(const char *path)
{
	uint8_t hdr[FRAME_HDR_LEN];
	int fd;

	fd = dial(path);
	hello(fd, "probe");
	/* Formats must come next; a frame with a bad header instead. */
	frame_hdr_encode(hdr, FRAME_FORMATS, 0);
	put(fd, hdr, sizeof(hdr));
	put(fd, "junk", 4);
	expect_closed(fd, "probe sends a zero-length formats frame");
}

int
main(int argc, char *argv[])
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 3)
		return 2;
	if (strcmp(argv[1], "enricher") == 0)
		enricher(argv[2]);
	else if (strcmp(argv[1], "aggregator") == 0)
		aggregator(argv[2]);
	else if (strcmp(argv[1], "inflight") == 0)
		inflight(argv[2]);
	else
		return 2;
	return failed;
}
