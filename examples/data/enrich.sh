#!/bin/sh
# A stand-in for an expensive per-key job (a model call, a container, a
# scrape): reads one JSON row on stdin, prints one JSON object on stdout.
# Needs nothing but a POSIX shell and standard tools.
#
#   echo '{"book":"b01","title":"Crafting Interpreters"}' | ./enrich.sh
#   {"title_words":2,"title_chars":21,"shelf":"C","fingerprint":"2189320086"}
#
# ENRICH_DELAY (seconds, default 0.5) pretends the job is slow.
set -eu

row=$(cat)
title=$(printf '%s\n' "$row" | sed -n 's/.*"title":"\([^"]*\)".*/\1/p')
if [ -z "$title" ]; then
    echo "enrich.sh: no \"title\" in the input row" >&2
    exit 3
fi

sleep "${ENRICH_DELAY:-0.5}"

words=$(printf '%s' "$title" | wc -w | tr -d ' ')
chars=$(printf '%s' "$title" | wc -c | tr -d ' ')
shelf=$(printf '%s' "$title" | sed 's/^The //' | cut -c1 | tr '[:lower:]' '[:upper:]')
fingerprint=$(printf '%s' "$title" | cksum | cut -d' ' -f1)

printf '{"title_words":%s,"title_chars":%s,"shelf":"%s","fingerprint":"%s"}\n' \
    "$words" "$chars" "$shelf" "$fingerprint"
