// ISO 8601 timestamps (`2026-11-27T13:47:29.123Z`) for usage records and JSON log
// lines. A busy proxy stamps many of them in the same millisecond, and
// Date#toISOString costs more than half a microsecond (measured), so the string
// is made once per millisecond of the wall clock.

let lastMs = Number.NaN;
let lastText = '';

export function isoTimeNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastText = new Date(ms).toISOString();
  }
  return lastText;
}
