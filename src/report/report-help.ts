// `lm-proxy report --help`: SPEC §11's options table, with the rules a user needs at the
// terminal (what is read, how time is read, what the exit codes mean).

export function reportHelp(): string {
  return `Usage: lm-proxy report [options] [FILE ...]

Reads usage ledgers (USAGE_LOG files) and prints totals per group. Files may be
plain or gzip-compressed (judged by their first bytes); - or no file reads
standard input; several files are read as one (replicas, rotated files).

Options:
  --by LIST        group by these, in order: hour, day, week (ISO, Monday),
                   month, model, key (key_id), path, status, user, tag:NAME
                   (default: day,model)
  --since T        only records at or after T (ISO 8601 date or date-time)
  --until T        only records before T
  --tz ZONE        IANA time zone for hours, days, weeks and months, and for
                   --since/--until values without an offset (default: UTC)
  --prices FILE    price the records that have no cost, from a LiteLLM
                   model_prices_and_context_window.json file
  --reprice        with --prices: price every record, replacing its cost
                   (an upstream-reported cost is kept)
  --format F       table (default), csv, json, md or svg
  --metric M       what svg draws: tokens (default, total_tokens) or cost
  -h, --help       print this help

Each group has requests, prompt_tokens, completion_tokens, total_tokens,
cached_tokens, reasoning_tokens, cost (the sum of the known costs; empty when
none is known), unpriced (records without a cost) and incomplete (records with
complete=false). Time groups run oldest first, then groups by total_tokens,
largest first. A record without the field grouped by is grouped under null
("(none)" in table and md, an empty cell in csv).

Examples:
  lm-proxy report usage.jsonl
  lm-proxy report --by week,key --since 2026-03-01 --tz Europe/Paris usage.jsonl*
  zcat usage.jsonl.1.gz | lm-proxy report --by month,tag:team --format csv -
  lm-proxy report --by day,model --format svg --metric cost usage.jsonl > cost.svg

Exit status: 0 done (lines that are not ledger records are skipped and
counted on stderr; an unfinished last line is ignored), 1 a file could not be
read, 2 a bad option.
`;
}
