/**
 * A small strict XML 1.0 parser for tests (W3C XML 1.0, 5th edition): elements, attributes, text,
 * the five predefined entities, character references, comments, CDATA sections and processing
 * instructions. A DOCTYPE is refused (nothing we emit has one, and it is the door to entity tricks).
 * Whatever is not well-formed is an error value with an offset; it never throws.
 */

export interface XmlElement {
  readonly type: 'element';
  readonly name: string;
  readonly attributes: ReadonlyMap<string, string>;
  readonly children: readonly XmlNode[];
}
export interface XmlText { readonly type: 'text'; readonly text: string }
export interface XmlComment { readonly type: 'comment'; readonly text: string }
export type XmlNode = XmlElement | XmlText | XmlComment;
export type XmlResult =
  | { readonly ok: true; readonly root: XmlElement }
  | { readonly ok: false; readonly error: string; readonly offset: number };

// §2.2 Char: what may appear at all.
const ILLEGAL_CHAR = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u;
// §2.3 NameStartChar and NameChar, exactly.
const NAME_START = ':A-Z_a-z\\u00c0-\\u00d6\\u00d8-\\u00f6\\u00f8-\\u02ff\\u0370-\\u037d\\u037f-\\u1fff\\u200c-\\u200d' +
  '\\u2070-\\u218f\\u2c00-\\u2fef\\u3001-\\ud7ff\\uf900-\\ufdcf\\ufdf0-\\ufffd\\u{10000}-\\u{effff}';
const NAME = new RegExp(`[${NAME_START}][${NAME_START}\\-.0-9\\u00b7\\u0300-\\u036f\\u203f-\\u2040]*`, 'uy');
const SPACE = /[ \t\n]+/y; // \r is gone after §2.11 line-end normalisation
const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const XML_DECL = /^<\?xml[ \t\n]+version[ \t\n]*=[ \t\n]*(["'])1\.[0-9]+\1([ \t\n]+encoding[ \t\n]*=[ \t\n]*(["'])[A-Za-z][A-Za-z0-9._-]*\3)?([ \t\n]+standalone[ \t\n]*=[ \t\n]*(["'])(yes|no)\5)?[ \t\n]*\?>/;

class Malformed {
  readonly error: string;
  readonly offset: number;
  constructor(error: string, offset: number) { this.error = error; this.offset = offset; }
}

export function parseXml(source: string): XmlResult {
  const bad = ILLEGAL_CHAR.exec(source);
  if (bad !== null) return { ok: false, error: `character U+${(bad[0].codePointAt(0) ?? 0).toString(16).padStart(4, '0')} is not allowed`, offset: bad.index };
  try {
    return { ok: true, root: new Parser(source.replace(/\r\n?/g, '\n')).document() };
  } catch (caught) {
    if (caught instanceof Malformed) return { ok: false, error: caught.error, offset: caught.offset };
    throw caught;
  }
}

class Parser {
  private at = 0;
  private readonly src: string;
  constructor(src: string) { this.src = src; }

  document(): XmlElement {
    if (this.src.startsWith('<?xml')) {
      const decl = XML_DECL.exec(this.src);
      if (decl === null) this.fail('malformed XML declaration');
      this.at = decl[0].length;
    }
    this.misc();
    if (this.src.startsWith('<!DOCTYPE', this.at)) this.fail('DOCTYPE is not supported');
    if (this.src[this.at] !== '<') this.fail('expected the root element');
    const root = this.element();
    this.misc();
    if (this.at < this.src.length) this.fail('content after the root element');
    return root;
  }

  /** §2.8 Misc: comments, processing instructions and white space around the root. */
  private misc(): void {
    for (;;) {
      this.space();
      if (this.src.startsWith('<!--', this.at)) this.comment();
      else if (this.src.startsWith('<?', this.at)) this.instruction();
      else return;
    }
  }

  private element(): XmlElement {
    this.expect('<');
    const name = this.name();
    const attributes = new Map<string, string>();
    for (;;) {
      const spaced = this.space();
      if (this.src.startsWith('/>', this.at)) { this.at += 2; return { type: 'element', name, attributes, children: [] }; }
      if (this.src[this.at] === '>') { this.at += 1; break; }
      if (!spaced) this.fail('expected white space before an attribute');
      const attribute = this.name();
      if (attributes.has(attribute)) this.fail(`duplicate attribute ${attribute}`);
      this.space();
      this.expect('=');
      this.space();
      attributes.set(attribute, this.attributeValue());
    }
    const children = this.content();
    this.expect('</');
    if (this.name() !== name) this.fail(`end tag does not match <${name}>`);
    this.space();
    this.expect('>');
    return { type: 'element', name, attributes, children };
  }

  /** §3.1 AttValue, with §3.3.3 normalisation of white space characters (not of references). */
  private attributeValue(): string {
    const quote = this.src[this.at];
    if (quote !== '"' && quote !== "'") this.fail('attribute value must be quoted');
    this.at += 1;
    let value = '';
    for (;;) {
      const c = this.src[this.at];
      if (c === undefined) this.fail('unterminated attribute value');
      if (c === quote) { this.at += 1; return value; }
      if (c === '<') this.fail('"<" in an attribute value');
      if (c === '&') value += this.reference();
      else { value += c === '\t' || c === '\n' ? ' ' : c; this.at += 1; }
    }
  }

  /** §3.1 content: character data, elements, references, CDATA, comments and PIs, up to an end tag. */
  private content(): XmlNode[] {
    const children: XmlNode[] = [];
    let text = '';
    const flush = (): void => { if (text !== '') children.push({ type: 'text', text }); text = ''; };
    for (;;) {
      if (this.at >= this.src.length) this.fail('unclosed element');
      if (this.src.startsWith('</', this.at)) { flush(); return children; }
      if (this.src.startsWith('<!--', this.at)) { flush(); children.push({ type: 'comment', text: this.comment() }); }
      else if (this.src.startsWith('<![CDATA[', this.at)) {
        const end = this.src.indexOf(']]>', this.at + 9);
        if (end < 0) this.fail('unterminated CDATA section');
        text += this.src.slice(this.at + 9, end);
        this.at = end + 3;
      } else if (this.src.startsWith('<?', this.at)) { flush(); this.instruction(); }
      else if (this.src[this.at] === '<') { flush(); children.push(this.element()); }
      else if (this.src[this.at] === '&') text += this.reference();
      else {
        let end = this.at;
        while (end < this.src.length && this.src[end] !== '<' && this.src[end] !== '&') end += 1;
        const chunk = this.src.slice(this.at, end);
        const cdataEnd = chunk.indexOf(']]>');
        if (cdataEnd >= 0) { this.at += cdataEnd; this.fail('"]]>" in character data'); }
        text += chunk;
        this.at = end;
      }
    }
  }

  /** §4.1 references: the five predefined entities and character references to legal characters. */
  private reference(): string {
    const match = /&(?:#([0-9]+)|#x([0-9a-fA-F]+)|([^;&<\s]+));/y;
    match.lastIndex = this.at;
    const m = match.exec(this.src);
    if (m === null) this.fail('"&" that does not start a reference');
    let value: string | undefined;
    if (m[3] !== undefined) value = ENTITIES[m[3]];
    else {
      const code = m[1] !== undefined ? Number.parseInt(m[1], 10) : Number.parseInt(m[2] ?? '', 16);
      value = code <= 0x10ffff ? String.fromCodePoint(code) : undefined;
      if (value !== undefined && ILLEGAL_CHAR.test(value)) value = undefined;
    }
    if (value === undefined) this.fail(`unknown or illegal reference ${m[0]}`);
    this.at += m[0].length;
    return value;
  }

  /** §2.5: "--" may not occur inside a comment, and it may not end in "-". */
  private comment(): string {
    const start = this.at + 4;
    const dashes = this.src.indexOf('--', start);
    if (dashes < 0) this.fail('unterminated comment');
    if (this.src[dashes + 2] !== '>') { this.at = dashes; this.fail('"--" inside a comment'); }
    this.at = dashes + 3;
    return this.src.slice(start, dashes);
  }

  /** §2.6: a PI's target is a name other than "xml" in any case. */
  private instruction(): void {
    this.at += 2;
    const target = this.name();
    if (target.toLowerCase() === 'xml') this.fail('XML declaration not at the start');
    const end = this.src.indexOf('?>', this.at);
    if (end < 0) this.fail('unterminated processing instruction');
    if (end > this.at && !this.space()) this.fail('expected white space after the PI target');
    this.at = end + 2;
  }

  private name(): string {
    NAME.lastIndex = this.at;
    const m = NAME.exec(this.src);
    if (m === null) this.fail('expected a name');
    this.at += m[0].length;
    return m[0];
  }

  private space(): boolean {
    SPACE.lastIndex = this.at;
    const m = SPACE.exec(this.src);
    if (m === null) return false;
    this.at += m[0].length;
    return true;
  }

  private expect(literal: string): void {
    if (!this.src.startsWith(literal, this.at)) this.fail(`expected "${literal}"`);
    this.at += literal.length;
  }

  private fail(error: string): never {
    throw new Malformed(error, this.at);
  }
}

/** The element and all elements inside it, in document order. */
export function elementsOf(root: XmlElement): XmlElement[] {
  const found: XmlElement[] = [root];
  for (const child of root.children) if (child.type === 'element') found.push(...elementsOf(child));
  return found;
}

export function childElements(element: XmlElement, name?: string): XmlElement[] {
  return element.children.filter((c): c is XmlElement => c.type === 'element' && (name === undefined || c.name === name));
}

/** The text of the element and of its descendants, joined. */
export function textOf(node: XmlNode): string {
  if (node.type === 'text') return node.text;
  if (node.type === 'comment') return '';
  return node.children.map(textOf).join('');
}
