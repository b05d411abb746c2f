// Header lists as Node hands them over (`rawHeaders`: [name, value, name, value, …]),
// and the small reads on them that every layer needs: the forwarder, the injection
// edit and the usage reader. Pure: names keep their case, order and repeats; nothing
// is mutated in place. The hop-by-hop rules themselves live in proxy/hop-by-hop.ts.

export type RawHeaders = readonly string[];

/** The list without the named headers (lower-case names); nothing else is judged. */
export function withoutHeaders(raw: RawHeaders, lowerNames: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!lowerNames.has(name.toLowerCase())) out.push(name, raw[i + 1] as string);
  }
  return out;
}

/** A Content-Type's media type, lower-cased, without parameters (RFC 9110 §8.3.1). */
export function mediaTypeOf(contentType: string): string {
  const semicolon = contentType.indexOf(';');
  return (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

/** The first value of a header, by case-insensitive name, or undefined. */
export function headerValue(raw: RawHeaders, lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return raw[i + 1];
  }
  return undefined;
}
