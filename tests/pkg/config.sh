#!/bin/sh
# The default configuration file (etc/sockflow.yml, installed as
# /etc/sockflow/sockflow.yml) and the configuration's manual page
# (man/sockflow.yml.5) must not fall behind the code:
#
#  1. "sockflow --check -f etc/sockflow.yml" accepts the file as shipped
#     (everything commented out) and the kernel check passes.
#  2. Every key "sockflow -n" prints is in the file, commented or not.
#  3. With every "#key: value" line uncommented, the file loads and the
#     effective configuration is exactly the defaults: each value the
#     file gives as a default is the default.
#  4. Every key has an entry in sockflow.yml(5).
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

SF=$top_builddir/sockflow
FILE=$top_srcdir/etc/sockflow.yml
MAN=$top_srcdir/man/sockflow.yml.5
[ -x "$SF" ] || { fail "no $SF (run make first)"; finish; }
[ -f "$FILE" ] || { fail "no $FILE"; finish; }
[ -f "$MAN" ] || { fail "no $MAN"; finish; }

if "$SF" --check -f "$FILE" >"$TMP/check.out" 2>&1; then
	echo "ok: sockflow --check accepts $FILE"
else
	fail "sockflow --check -f $FILE:"
	cat "$TMP/check.out"
fi

# Keys as "sockflow -n" prints them: "key: value", or "# key: (...)"
# for an option with no value to print (detected at start, secret).
"$SF" -n -f /dev/null >"$TMP/defaults" 2>&1 ||
    { fail "sockflow -n failed"; cat "$TMP/defaults"; finish; }
sed -n 's/^\(# \)\{0,1\}\([a-z][a-z0-9_.]*\): .*/\2/p' "$TMP/defaults" \
    >"$TMP/keys"
nkeys=$(wc -l <"$TMP/keys")
[ "$nkeys" -gt 0 ] || { fail "no key in the output of sockflow -n"; finish; }
missing=0
while read -r key; do
	if ! grep -q "^# \{0,1\}$key:" "$FILE"; then
		fail "$key is not in $FILE"
		missing=$((missing + 1))
	fi
	if ! grep -q "^\.It Cm $key\( \|$\)" "$MAN"; then
		fail "$key has no entry (.It Cm $key) in $MAN"
		missing=$((missing + 1))
	fi
done <"$TMP/keys"
[ "$missing" = 0 ] && echo "ok: all $nkeys keys are in the file and the manual"

# "#key: value" (no blank after the hash) is an option at its default.
sed 's/^#\([a-z][a-z0-9_.]*: \)/\1/' "$FILE" >"$TMP/uncommented.yml"
if "$SF" -n -f "$TMP/uncommented.yml" >"$TMP/uncommented" 2>&1; then
	if cmp -s "$TMP/defaults" "$TMP/uncommented"; then
		echo "ok: every default the file gives is the default"
	else
		fail "the file's values are not the defaults:"
		diff "$TMP/defaults" "$TMP/uncommented"
	fi
else
	fail "the file with its options uncommented does not load:"
	cat "$TMP/uncommented"
fi
finish
