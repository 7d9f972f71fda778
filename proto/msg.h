/*
 * sockflow messages as plain C structs, with one encoder and one validating
 * decoder per message type. This file and msg.c are the only places that
 * see protobuf-c types; everything else works with these structs.
 *
 * Encoders return a whole frame (header and payload) in a malloc'd buffer,
 * or NULL when the message would exceed its frame type's maximum. Decoders
 * take a payload whose length the frame layer already bounded, unpack it,
 * check every field, copy it out and free the protobuf; they return 0, or
 * -1 with *errstr naming what was wrong, leaving *out empty.
 */
#ifndef SOCKFLOW_MSG_H
#define SOCKFLOW_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_MAX_CPUS		4096
#define MSG_MAX_FORMATS		64
#define MSG_MAX_FORMAT_TEXT	(16 * 1024)
#define MSG_MAX_COUNTERS	256
#define MSG_NAME_LEN		64
#define MSG_COMM_LEN		16

struct msg_hello {
	uint32_t	protocol_version;
	char		component[MSG_NAME_LEN];
	char		software_version[MSG_NAME_LEN];
	uint32_t	pid;
	char		backend[MSG_NAME_LEN];
	uint64_t	monotonic_ns;	/* sender's clock when sent; 0: none */
	uint32_t	resumed;	/* probe: aggregators served before */
	uint64_t	gap_ns;		/* probe: when the last one went away */
	uint64_t	instance;	/* aggregator: this process */
};

struct msg_format {
	uint32_t	id;
	char		system[MSG_NAME_LEN];
	char		name[MSG_NAME_LEN];
	char		*text;		/* NUL-terminated copy */
	size_t		textlen;
	uint32_t	stack_user;	/* user stack bytes in its samples */
};

/* The most user stack a sample may carry (the kernel's own limit). */
#define MSG_MAX_STACK_USER	65528

struct msg_formats {
	struct msg_format *v;
	size_t		n;
	char		tracefs_path[256];
	uint32_t	ncpus;
	bool		sample_cgroup;	/* samples end with the cgroup id */
};

struct msg_samples {
	uint32_t	cpu;
	uint8_t		*records;	/* perf records, validated framing */
	size_t		len;
	uint32_t	nrecords;
	uint64_t	drained_until;	/* CLOCK_MONOTONIC ns, 0 = not said */
};

#define MSG_MAX_DIAG_DGRAMS	4096
#define MSG_MAX_DIAG_DGRAM	(64 * 1024)

struct msg_diag {
	uint8_t		**dgram;	/* netlink datagrams, unparsed */
	size_t		*len;
	size_t		n;
	uint64_t	overruns;
	uint8_t		dump_protocol;	/* 6 or 17: a dump answer */
};

struct msg_lost {
	uint64_t	*lost;		/* index = CPU */
	size_t		n;
	uint64_t	*counted;	/* index = CPU; NULL when not sent */
};

enum flow_direction {
	FLOW_DIR_UNKNOWN = 0,
	FLOW_DIR_INBOUND = 1,
	FLOW_DIR_OUTBOUND = 2,
};

struct flow_endpoint {
	uint8_t		ip[16];		/* 4 bytes used for IPv4 */
	uint16_t	port;
	uint64_t	bytes;
	uint64_t	packets;
	uint64_t	ip_bytes;
};

/* Where a flow's IP-level bytes come from. */
enum flow_bytes_source {
	FLOW_BYTES_DERIVED = 0,		/* payload plus headers per packet */
	FLOW_BYTES_PER_PACKET = 1,	/* the sum of every packet's length */
	FLOW_BYTES_PER_PACKET_DERIVED = 2, /* and derived for packets the IP
					   layer did not show one by one */
};

enum flow_packet_source {
	FLOW_PKTS_NONE = 0,
	FLOW_PKTS_DATAGRAMS = 1,
	FLOW_PKTS_TCP_INFO = 2,
	FLOW_PKTS_TCP_INFO_TIMEWAIT = 3,
};

struct msg_flow {
	uint64_t	sock;
	uint8_t		family;		/* 4 or 6 */
	uint8_t		transport;	/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t		direction;	/* enum flow_direction */
	struct flow_endpoint local;
	struct flow_endpoint remote;
	uint32_t	pid;
	int64_t		start_ns;
	int64_t		end_ns;
	bool		final;
	bool		complete;
	uint32_t	tcp_state;
	bool		local_ip_known;
	bool		remote_known;
	uint8_t		packet_source;	/* enum flow_packet_source */
	uint64_t	cookie;
	bool		samples_lost;
	bool		remote_inferred;
	bool		existing;
	bool		disconnected;
	uint8_t		bytes_source;	/* enum flow_bytes_source */
	uint64_t	cgroup;		/* cgroup v2 id, 0 = not known */
	uint32_t	netns;		/* inode, 0 = not known */
	uint64_t	flow_id;	/* 0: none */
	bool		open;		/* a notice of an open flow, no report */
	bool		gone;		/* the sender's last record of it */
	/* Not on the wire: written by the enricher, its aggregator dead. */
	bool		orphaned;
};

enum process_event_kind {
	PROC_EV_NONE = 0,
	PROC_EV_EXEC = 1,
	PROC_EV_FORK = 2,
	PROC_EV_EXIT = 3,
	PROC_EV_EXECUTABLE = 4,
	PROC_EV_CREDS = 5,
	PROC_EV_ARGS = 6,
	PROC_EV_SETID = 7,
};

/* msg_process.setid_call: which set*id() call (and what it sets). */
#define SETID_UID	1	/* setuid(uid): all if privileged, else euid */
#define SETID_GID	2
#define SETID_REUID	3	/* setreuid(uid, euid) */
#define SETID_REGID	4
#define SETID_RESUID	5	/* setresuid(uid, euid, saved) */
#define SETID_RESGID	6
#define SETID_KEEP	0xffffffffU	/* (uid_t)-1: left as it was */

/* The longest executable path carried; a longer one is cut. */
#define MSG_PATH_LEN	255
/* An exec's argument strings, each ended by a NUL: at most this much. */
#define MSG_ARGS_LEN	256

struct msg_process {
	uint8_t		kind;
	uint32_t	pid;
	uint32_t	ppid;
	char		comm[MSG_COMM_LEN + 1];
	int64_t		time_ns;
	char		executable[MSG_PATH_LEN + 1];
	uint32_t	uid, gid, euid, egid;
	uint8_t		args[MSG_ARGS_LEN];	/* ARGS: "a\0b\0", cut */
	uint16_t	args_len;
	uint32_t	argc;		/* how many there were */
	bool		is_exec;	/* EXEC: an exec, not a new name */
	uint8_t		setid_call;	/* SETID: SETID_* of the call */
};

struct msg_counter {
	char		name[MSG_NAME_LEN];
	uint64_t	value;
};

struct msg_stats {
	char		component[MSG_NAME_LEN];
	struct msg_counter *v;
	size_t		n;
	bool		last;		/* the sender stops cleanly after it */
};

/* Port-53 packets as captured (PacketBatch), probe -> aggregator. */
#define MSG_MAX_PACKETS		256
#define MSG_MAX_SNAPLEN		65535

struct msg_packet {
	uint64_t	time;		/* CLOCK_MONOTONIC ns */
	uint16_t	protocol;	/* ETH_P_IP or ETH_P_IPV6 */
	uint32_t	ifindex;
	uint8_t		*data;		/* from the IP header */
	size_t		len;
	uint32_t	orig_len;
};

struct msg_packets {
	struct msg_packet *v;
	size_t		n;
	uint64_t	drops;		/* cumulative */
};

/* One DNS message and the process of its client, aggregator -> enricher. */
struct msg_dns {
	uint32_t	pid;		/* 0 = not known */
	int64_t		time_ns;
	uint8_t		transport;	/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t		family;		/* 4 or 6 */
	uint8_t		client_ip[16];
	uint16_t	client_port;
	uint8_t		server_ip[16];
	uint16_t	server_port;
	bool		response;
	bool		whole;		/* not cut by the capture */
	uint8_t		*payload;	/* decoded: owned, msg_dns_free */
	size_t		len;
};

/* Processes and their network namespaces at start, probe -> aggregator. */
#define MSG_MAX_NETNS		65536

struct msg_netns {
	uint32_t	*pid;
	uint64_t	*netns;
	size_t		n;
};

/* A new cgroup, aggregator -> enricher. */
#define MSG_CGROUP_PATH_LEN	4095

struct msg_cgroup {
	uint64_t	id;
	char		path[MSG_CGROUP_PATH_LEN + 1];
};

uint8_t	*msg_encode_hello(const struct msg_hello *, size_t *);
uint8_t	*msg_encode_formats(const struct msg_formats *, size_t *);
uint8_t	*msg_encode_samples(const struct msg_samples *, size_t *);
uint8_t	*msg_encode_lost(const struct msg_lost *, size_t *);
uint8_t	*msg_encode_flow(const struct msg_flow *, size_t *);
uint8_t	*msg_encode_process(const struct msg_process *, size_t *);
uint8_t	*msg_encode_stats(const struct msg_stats *, size_t *);
/* Append a counter to v[*n] of cap; one past cap is left out. */
void	 msg_counter_add(struct msg_counter *v, size_t *n, size_t cap,
	    const char *name, uint64_t value);
uint8_t	*msg_encode_diag(const struct msg_diag *, size_t *);
uint8_t	*msg_encode_packets(const struct msg_packets *, size_t *);
uint8_t	*msg_encode_dns(const struct msg_dns *, size_t *);
uint8_t	*msg_encode_netns(const struct msg_netns *, size_t *);
uint8_t	*msg_encode_cgroup(const struct msg_cgroup *, size_t *);

int	msg_decode_hello(const uint8_t *, size_t, struct msg_hello *,
	    const char **);
int	msg_decode_formats(const uint8_t *, size_t, struct msg_formats *,
	    const char **);
int	msg_decode_samples(const uint8_t *, size_t, struct msg_samples *,
	    const char **);
int	msg_decode_lost(const uint8_t *, size_t, struct msg_lost *,
	    const char **);
int	msg_decode_flow(const uint8_t *, size_t, struct msg_flow *,
	    const char **);
int	msg_decode_process(const uint8_t *, size_t, struct msg_process *,
	    const char **);
int	msg_decode_stats(const uint8_t *, size_t, struct msg_stats *,
	    const char **);

int	msg_decode_diag(const uint8_t *, size_t, struct msg_diag *,
	    const char **);
void	msg_diag_free(struct msg_diag *);
int	msg_decode_packets(const uint8_t *, size_t, struct msg_packets *,
	    const char **);
void	msg_packets_free(struct msg_packets *);
int	msg_decode_dns(const uint8_t *, size_t, struct msg_dns *,
	    const char **);
void	msg_dns_free(struct msg_dns *);
int	msg_decode_netns(const uint8_t *, size_t, struct msg_netns *,
	    const char **);
void	msg_netns_free(struct msg_netns *);
int	msg_decode_cgroup(const uint8_t *, size_t, struct msg_cgroup *,
	    const char **);
void	msg_formats_free(struct msg_formats *);
void	msg_samples_free(struct msg_samples *);
void	msg_lost_free(struct msg_lost *);
void	msg_stats_free(struct msg_stats *);

#endif
