/**
 * Reads what the upstream's 101 agreed to in `Sec-WebSocket-Extensions`, so the side reader knows
 * whether frames are compressed (SPEC §13 "Usage": permessage-deflate decoded "when the two ends
 * agreed on it"). Grammar: RFC 6455 §9.1; parameters: RFC 7692 §7.1. Pure: never throws, never
 * does I/O; a header the client would have to reject gives null, as if nothing was agreed.
 */

/** What the server's response says about permessage-deflate (RFC 7692 §7.1). */
export interface PerMessageDeflateSettings {
  /** §7.1.1.1: the server resets its compressor after each message. */
  readonly serverNoContextTakeover: boolean;
  /** §7.1.1.2: the client resets its compressor after each message. */
  readonly clientNoContextTakeover: boolean;
  /** §7.1.2.1: the server's LZ77 window is at most 2^bits bytes; 15 when not limited. */
  readonly serverMaxWindowBits: number;
  /** §7.1.2.2: the client's window; 15 when not limited. */
  readonly clientMaxWindowBits: number;
}

/** One element of the extension list: `name; param; param=value`. Values are unquoted. */
export interface ExtensionElement {
  readonly name: string;
  readonly params: readonly ExtensionParam[];
}

export interface ExtensionParam {
  readonly name: string;
  /** true for a parameter without `=value`. */
  readonly value: string | true;
}

const PERMESSAGE_DEFLATE = 'permessage-deflate';
const DEFAULT_WINDOW_BITS = 15; // RFC 7692 §7.1.2: no parameter means the full 32 KiB window
// RFC 7692 §7.1.2.1: "a decimal integer value without leading zeroes between 8 to 15, inclusive".
const WINDOW_BITS = /^(?:[89]|1[0-5])$/;

/**
 * The negotiated permessage-deflate settings, or null when the response agreed to no
 * permessage-deflate or agreed to it in a form the client must fail the connection for (§7.1:
 * an unknown parameter, a repeated one, a bad value). Node joins repeated header lines with ", ";
 * an array of lines is joined the same way. Only the first permessage-deflate element counts, as
 * in the `ws` client: a response may name an extension once only (RFC 6455 §9.1).
 */
export function parsePerMessageDeflate(header: string | readonly string[] | undefined): PerMessageDeflateSettings | null {
  if (header === undefined) return null;
  const elements = parseExtensionList(typeof header === 'string' ? header : header.join(','));
  if (elements === null) return null;
  const deflate = elements.find((element) => element.name.toLowerCase() === PERMESSAGE_DEFLATE);
  return deflate === undefined ? null : toSettings(deflate.params);
}

/**
 * RFC 6455 §9.1, with RFC 9110 §5.6 list rules (optional whitespace around separators, empty
 * list elements ignored). Null when the text does not follow the grammar.
 *   extension       = extension-token *( ";" extension-param )
 *   extension-param = token [ "=" (token | quoted-string) ]
 * "When using the quoted-string syntax variant, the value after quoted-string unescaping MUST
 * conform to the 'token' ABNF."
 */
export function parseExtensionList(text: string): ExtensionElement[] | null {
  const scanner = new Scanner(text);
  const elements: ExtensionElement[] = [];
  for (;;) {
    scanner.skipWhitespace();
    if (scanner.atEnd()) return elements;
    if (scanner.take(',')) continue; // an empty list element
    const name = scanner.token();
    if (name === null) return null;
    const params: ExtensionParam[] = [];
    scanner.skipWhitespace();
    while (scanner.take(';')) {
      scanner.skipWhitespace();
      const param = scanner.token();
      if (param === null) return null;
      scanner.skipWhitespace();
      let value: string | true = true;
      if (scanner.take('=')) {
        scanner.skipWhitespace();
        const text = scanner.peek() === '"' ? scanner.quotedToken() : scanner.token();
        if (text === null) return null;
        value = text;
        scanner.skipWhitespace();
      }
      params.push({ name: param, value });
    }
    elements.push({ name, params });
    if (scanner.atEnd()) return elements;
    if (!scanner.take(',')) return null;
  }
}

// RFC 7692 §7.1: the client "MUST _Fail the WebSocket Connection_" for a response with a
// parameter not defined for responses, a parameter with an invalid value, or a repeated one.
function toSettings(params: readonly ExtensionParam[]): PerMessageDeflateSettings | null {
  const seen = new Set<string>();
  let serverNoContextTakeover = false;
  let clientNoContextTakeover = false;
  let serverMaxWindowBits = DEFAULT_WINDOW_BITS;
  let clientMaxWindowBits = DEFAULT_WINDOW_BITS;
  for (const { name, value } of params) {
    const key = name.toLowerCase();
    if (seen.has(key)) return null;
    seen.add(key);
    switch (key) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) return null; // §7.1.1: "This parameter has no value."
        if (key === 'server_no_context_takeover') serverNoContextTakeover = true;
        else clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
      case 'client_max_window_bits': {
        // §7.1.2.2: only an offer may carry client_max_window_bits without a value.
        if (value === true || !WINDOW_BITS.test(value)) return null;
        if (key === 'server_max_window_bits') serverMaxWindowBits = Number(value);
        else clientMaxWindowBits = Number(value);
        break;
      }
      default:
        return null;
    }
  }
  return { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits };
}

// RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_"
// / "`" / "|" / "~" / DIGIT / ALPHA
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/;
const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;

class Scanner {
  private readonly text: string;
  private pos = 0;

  constructor(text: string) {
    this.text = text;
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text.charAt(this.pos);
  }

  take(char: string): boolean {
    if (this.text.charAt(this.pos) !== char) return false;
    this.pos++;
    return true;
  }

  // OWS = *( SP / HTAB )
  skipWhitespace(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }

  token(): string | null {
    TOKEN.lastIndex = this.pos;
    const match = TOKEN.exec(this.text);
    if (match === null) return null;
    this.pos += match[0].length;
    return match[0];
  }

  /** RFC 9110 §5.6.4 quoted-string, unescaped; null unless the result is a token (RFC 6455 §9.1). */
  quotedToken(): string | null {
    this.pos++; // the opening DQUOTE
    let value = '';
    for (;;) {
      if (this.atEnd()) return null;
      let char = this.peek();
      this.pos++;
      if (char === '"') break;
      if (char === '\\') {
        if (this.atEnd()) return null;
        char = this.peek();
        this.pos++;
      }
      if (!TCHAR.test(char)) return null;
      value += char;
    }
    return value === '' ? null : value;
  }
}
