# The elasticsearch output against tests/output/es_server.py: test_es
# starts and stops the server itself (127.0.0.1, port 0) and keeps its
# files in a private directory, removed when the test passes.
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}

if ! command -v python3 >/dev/null 2>&1; then
	echo "es.sh: python3 is needed" >&2
	exit 1
fi
TMP=$(mktemp -d /tmp/sockflow-es.XXXXXX) || exit 1
# The test bounds its own waits; this bounds a hang of the whole.
timeout -k 5 120 "$top_builddir/tests/output/test_es" \
    "$top_srcdir/tests/output/es_server.py" "$TMP"
rc=$?
if [ "$rc" = 0 ]; then
	rm -rf "$TMP"
else
	echo "es.sh: failed ($rc); files kept in $TMP" >&2
fi
exit "$rc"
