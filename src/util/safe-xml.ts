/**
 * A small, strict XML reader for descriptors from outside (OVF): elements, attributes and
 * text, nothing more. A document type declaration (DTD), an entity declaration and any
 * entity reference other than the five predefined ones and character references are
 * refused, so neither external entities (XXE) nor entity expansion (billion laughs) can
 * happen. Size, depth and element count are bounded.
 */

export interface XmlElement {
  /** The qualified name as written (`ovf:Disk`). */
  name: string;
  /** The name without its prefix (`Disk`). */
  local: string;
  /** Attributes by qualified name, entities decoded. */
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The element's own text (not its children's), entities decoded. */
  text: string;
  /** 1-based line of the start tag. */
  line: number;
}

export class XmlRefusedError extends Error {
  constructor(message: string, readonly line?: number) {
    super(line === undefined ? message : `line ${line}: ${message}`);
    this.name = 'XmlRefusedError';
  }
}

export interface XmlLimits {
  maxBytes?: number;
  maxDepth?: number;
  maxElements?: number;
}

const NAME = /^[A-Za-z_][\w.:-]*$/;

function decode(s: string, line: number): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&\s]*);?/g, (m, e: string) => {
    if (!m.endsWith(';')) throw new XmlRefusedError('a "&" that does not start an entity reference', line);
    switch (e) {
      case 'amp': return '&';
      case 'lt': return '<';
      case 'gt': return '>';
      case 'quot': return '"';
      case 'apos': return "'";
    }
    const hex = /^#x([0-9a-fA-F]{1,6})$/.exec(e);
    const dec = /^#([0-9]{1,7})$/.exec(e);
    const code = hex ? parseInt(hex[1]!, 16) : dec ? parseInt(dec[1]!, 10) : undefined;
    if (code === undefined) throw new XmlRefusedError(`the entity reference &${e.slice(0, 40)}; (entities are refused: only &amp; &lt; &gt; &quot; &apos; and character references are allowed)`, line);
    if (code < 1 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) throw new XmlRefusedError(`the character reference &${e}; is not a valid character`, line);
    return String.fromCodePoint(code);
  });
}

function parseAttrs(body: string, line: number): Record<string, string> {
  const attrs: Record<string, string> = {};
  let rest = body.trim();
  while (rest.length > 0) {
    const m = /^([^\s=/>]+)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')\s*/.exec(rest);
    if (!m || !NAME.test(m[1]!)) throw new XmlRefusedError(`a malformed attribute near "${rest.slice(0, 40)}"`, line);
    if (m[1]! in attrs) throw new XmlRefusedError(`the attribute ${m[1]} appears twice`, line);
    attrs[m[1]!] = decode(m[2] ?? m[3] ?? '', line);
    rest = rest.slice(m[0].length);
  }
  return attrs;
}

/** The index of the `>` that ends the start tag at `from` (quoted attribute values may hold `>`), or -1. */
function tagEnd(text: string, from: number): number {
  let quote = '';
  for (let k = from + 1; k < text.length; k++) {
    const c = text[k]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '>') {
      return k;
    }
  }
  return -1;
}

/** Parses `text`; throws XmlRefusedError for anything malformed or refused. */
export function parseXml(text: string, limits: XmlLimits = {}): XmlElement {
  const maxBytes = limits.maxBytes ?? 4 << 20;
  const maxDepth = limits.maxDepth ?? 64;
  const maxElements = limits.maxElements ?? 100_000;
  if (Buffer.byteLength(text, 'utf8') > maxBytes) throw new XmlRefusedError(`the document is larger than ${maxBytes} bytes`);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let count = 0;
  let i = 0;
  let line = 1;
  const advance = (to: number) => {
    for (let k = i; k < to; k++) if (text.charCodeAt(k) === 10) line++;
    i = to;
  };
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const chunk = lt < 0 ? text.slice(i) : text.slice(i, lt);
    if (chunk.length > 0) {
      const top = stack[stack.length - 1];
      if (top) top.text += decode(chunk, line);
      else if (chunk.trim() !== '') throw new XmlRefusedError('text outside the root element', line);
      advance(lt < 0 ? text.length : lt);
    }
    if (lt < 0) break;
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end < 0) throw new XmlRefusedError('an unterminated comment', line);
      advance(end + 3);
    } else if (text.startsWith('<![CDATA[', i)) {
      const end = text.indexOf(']]>', i + 9);
      const top = stack[stack.length - 1];
      if (end < 0 || !top) throw new XmlRefusedError('a misplaced or unterminated CDATA section', line);
      top.text += text.slice(i + 9, end);
      advance(end + 3);
    } else if (text.startsWith('<!', i)) {
      const what = /^<!([A-Z]*)/.exec(text.slice(i, i + 12))?.[1] || 'declaration';
      throw new XmlRefusedError(`a <!${what}> declaration: document type declarations and entities are refused (they can read files or expand without bound)`, line);
    } else if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i + 2);
      if (end < 0) throw new XmlRefusedError('an unterminated processing instruction', line);
      advance(end + 2);
    } else if (text.startsWith('</', i)) {
      const end = text.indexOf('>', i);
      if (end < 0) throw new XmlRefusedError('an unterminated end tag', line);
      const name = text.slice(i + 2, end).trim();
      const top = stack.pop();
      if (!top || top.name !== name) throw new XmlRefusedError(`the end tag </${name.slice(0, 60)}> does not match ${top ? `<${top.name}>` : 'any open element'}`, line);
      advance(end + 1);
    } else {
      const end = tagEnd(text, i);
      if (end < 0) throw new XmlRefusedError('an unterminated start tag', line);
      let body = text.slice(i + 1, end);
      const selfClosing = body.endsWith('/');
      if (selfClosing) body = body.slice(0, -1);
      const nameMatch = /^[^\s/>]+/.exec(body);
      const name = nameMatch?.[0] ?? '';
      if (!NAME.test(name)) throw new XmlRefusedError(`a malformed tag name "${name.slice(0, 60)}"`, line);
      if (++count > maxElements) throw new XmlRefusedError(`more than ${maxElements} elements`, line);
      const el: XmlElement = { name, local: name.slice(name.lastIndexOf(':') + 1), attrs: parseAttrs(body.slice(name.length), line), children: [], text: '', line };
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(el);
      else if (root) throw new XmlRefusedError('a second root element', line);
      else root = el;
      if (!selfClosing) {
        stack.push(el);
        if (stack.length > maxDepth) throw new XmlRefusedError(`elements nested deeper than ${maxDepth}`, line);
      }
      advance(end + 1);
    }
  }
  if (stack.length > 0) throw new XmlRefusedError(`the element <${stack[stack.length - 1]!.name}> is not closed`, line);
  if (!root) throw new XmlRefusedError('no root element: this is not an XML document');
  return root;
}

/** An attribute by local name (any prefix, `xmlns` declarations skipped). */
export function attr(el: XmlElement, local: string): string | undefined {
  if (el.attrs[local] !== undefined) return el.attrs[local];
  for (const [k, v] of Object.entries(el.attrs)) {
    if (k.startsWith('xmlns')) continue;
    if (k.slice(k.lastIndexOf(':') + 1) === local) return v;
  }
  return undefined;
}

/** Direct children with one of these local names. */
export function children(el: XmlElement, ...locals: string[]): XmlElement[] {
  return el.children.filter((c) => locals.includes(c.local));
}

export function child(el: XmlElement, local: string): XmlElement | undefined {
  return el.children.find((c) => c.local === local);
}

/** The trimmed text of a direct child, or undefined. */
export function childText(el: XmlElement, local: string): string | undefined {
  const c = child(el, local);
  return c === undefined ? undefined : c.text.trim();
}

/** Every descendant (depth first) with this local name. */
export function descendants(el: XmlElement, local: string): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement) => {
    for (const c of e.children) {
      if (c.local === local) out.push(c);
      walk(c);
    }
  };
  walk(el);
  return out;
}
