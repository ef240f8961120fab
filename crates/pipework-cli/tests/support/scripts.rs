//! Test commands. Each appends one line to `$CALLS` per run, so tests can
//! count invocations.

/// Prints `{"input": <the row it got>}`.
pub(crate) const ECHO: &str = r#"row=$(cat)
printf '%s\n' "$row" >> "$CALLS"
printf '{"input":%s}\n' "$row"
"#;

/// The start of the gated test commands: reads the row, logs it, holds until
/// a file `go` exists in the working directory (so a test can keep commands
/// running as long as it needs; `go` made before the run: no hold), then
/// pauses a random 10 to 60 ms. A macro, so `concat!` can build each
/// command's text from it.
macro_rules! gated_slow_start {
    () => {
        r#"row=$(cat)
printf '%s\n' "$row" >> "$CALLS"
while [ ! -e go ]; do sleep 0.01; done
n=$(od -An -N1 -tu1 /dev/urandom | tr -d ' ')
sleep "0.0$((n % 6 + 1))"
"#
    };
}

/// Like `ECHO` after a hold and a short random pause (`gated_slow_start`).
pub(crate) const GATED_SLOW_ECHO: &str = concat!(
    gated_slow_start!(),
    r#"printf '{"input":%s}\n' "$row"
"#
);

/// A flatmap's command after a hold and a short random pause
/// (`gated_slow_start`): as many objects `{"part": i, "input": ROW}` as its
/// row's `parts` column says, 0, 1 or 2.
pub(crate) const GATED_SLOW_PARTS: &str = concat!(
    gated_slow_start!(),
    r#"case "$row" in
  *'"parts":0'*) ;;
  *'"parts":1'*) printf '{"part":1,"input":%s}\n' "$row" ;;
  *) printf '{"part":1,"input":%s}\n{"part":2,"input":%s}\n' "$row" "$row" ;;
esac
"#
);

/// A generate's command after a hold and a short random pause
/// (`gated_slow_start`): `{"for": TOPIC}`, the `topic` string of its request.
/// Not the index, which is only a hint (rows after a crash are numbered
/// from the rows there), so any run's rows can be compared with a clean run's.
pub(crate) const GATED_SLOW_TOPIC: &str = concat!(
    gated_slow_start!(),
    r#"topic=$(printf '%s' "$row" | sed -n 's/.*"topic":"\([^"]*\)".*/\1/p')
printf '{"for":"%s"}\n' "$topic"
"#
);

/// Fails (exit 3, a message on stderr) when its input contains "bad".
pub(crate) const FAIL_ON_BAD: &str = r#"row=$(cat)
printf '%s\n' "$row" >> "$CALLS"
case "$row" in
  *bad*) echo "line one of the complaint" >&2; echo "cannot handle this row" >&2; exit 3 ;;
esac
printf '{"ok":true}\n'
"#;

/// Prints its arguments, one JSON string each, as {"args": [...]}.
pub(crate) const PRINT_ARGS: &str = r#"cat > /dev/null
printf 'x\n' >> "$CALLS"
out='{"args":['
sep=''
for a in "$@"; do
  esc=$(printf '%s' "$a" | sed 's/\\/\\\\/g; s/"/\\"/g')
  out="$out$sep\"$esc\""
  sep=','
done
printf '%s]}\n' "$out"
"#;

/// Prints two objects as JSONL, or none for a key containing "none".
pub(crate) const TWO_LINES: &str = r#"row=$(cat)
printf '%s\n' "$row" >> "$CALLS"
case "$row" in
  *none*) exit 0 ;;
esac
printf '{"part":1}\n{"part":2}\n'
"#;

/// Prints a JSON array of two objects.
pub(crate) const ARRAY: &str = r#"row=$(cat)
printf '%s\n' "$row" >> "$CALLS"
printf '[{"part":1},{"part":2}]\n'
"#;
