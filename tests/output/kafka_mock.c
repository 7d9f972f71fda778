/*
 * kafka_mock: a kafka cluster for end-to-end tests of the kafka output,
 * made of librdkafka's mock brokers, driven by lines on stdin.
 *
 *	kafka_mock [-b brokers] [-p partitions] [-t topic]
 *
 * Defaults: 3 brokers, 6 partitions, topic "sockflow". The first line on
 * stdout is the cluster's bootstrap servers (host:port,host:port,...), for
 * output.kafka.hosts. Then it reads one command a line and answers each:
 *
 *	down		every broker goes down (its connections are closed
 *			and new ones refused); answers "ok"
 *	up		every broker comes back; answers "ok"
 *	consume N MS	reads the topic from its beginning until N messages
 *			came (N 0: until every partition is at its end) or MS
 *			milliseconds passed; answers one line a message,
 *			"partition<TAB>key<TAB>value" (key empty when the
 *			message had none), then "end<TAB>count"
 *	quit		exits 0, as does the end of stdin
 *
 * Anything else answers "error<TAB>why". Keys and values are written as
 * they are: the output's documents are JSON lines, which hold no tab or
 * newline. librdkafka's own messages go to stderr.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka_mocklib.h"

static void
print_msg(void *arg, int32_t partition, const char *key, size_t keylen,
    const char *value, size_t valuelen)
{
	(void)arg;
	printf("%d\t%.*s\t%.*s\n", (int)partition, (int)keylen,
	    key != NULL ? key : "", (int)valuelen, value);
}

static void
usage(void)
{
	fprintf(stderr, "usage: kafka_mock [-b brokers] [-p partitions] "
	    "[-t topic]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct kmock m;
	const char *topic = "sockflow";
	char line[256], err[256];
	int ch, brokers = 3, partitions = 6, ms;
	long want, n;

	while ((ch = getopt(argc, argv, "b:p:t:")) != -1) {
		switch (ch) {
		case 'b':
			brokers = atoi(optarg);
			break;
		case 'p':
			partitions = atoi(optarg);
			break;
		case 't':
			topic = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || brokers < 1 || brokers > 64 ||
	    partitions < 1 || partitions > 1024)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (kmock_start(&m, brokers, err, sizeof(err)) == -1 ||
	    kmock_topic(&m, topic, partitions, err, sizeof(err)) == -1) {
		fprintf(stderr, "kafka_mock: %s\n", err);
		return 1;
	}
	printf("%s\n", kmock_bootstraps(&m));
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, "quit") == 0)
			break;
		if (strcmp(line, "down") == 0 || strcmp(line, "up") == 0) {
			if (kmock_set_up(&m, line[0] == 'u') == -1)
				printf("error\tcannot set every broker %s\n",
				    line);
			else
				printf("ok\n");
		} else if (sscanf(line, "consume %ld %d", &want, &ms) == 2 &&
		    want >= 0 && ms >= 0) {
			n = kmock_consume(&m, topic, partitions, want, ms,
			    print_msg, NULL, err, sizeof(err));
			if (n == -1)
				printf("error\t%s\n", err);
			else
				printf("end\t%ld\n", n);
		} else
			printf("error\tunknown command\n");
	}
	kmock_stop(&m);
	return 0;
}
