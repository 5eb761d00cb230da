/**
 * A small, strict XML parser for libvirt domain XML (what `virsh dumpxml` writes).
 *
 * Safe by construction: there is no DTD support at all. A document type declaration
 * (`<!DOCTYPE`), an entity declaration (`<!ENTITY`) or any entity reference other than the
 * five predefined ones (`&lt;` `&gt;` `&amp;` `&quot;` `&apos;`) and numeric character
 * references is refused, so nothing external is ever read (XXE) and nothing expands
 * (billion laughs). Size and depth are bounded. Elements, attributes, text, CDATA,
 * comments and processing instructions are understood; namespaces are kept as written
 * (`qemu:commandline` is an element named so).
 */
import { HangarError } from '../../errors/errors.js';

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The element's own text (its text nodes and CDATA joined), not its children's. */
  text: string;
}

export const MAX_XML_BYTES = 1024 * 1024;
const MAX_DEPTH = 64;
const NAME = /^[A-Za-z_:][A-Za-z0-9_.:-]*/;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function invalid(message: string, at?: number, src?: string): HangarError {
  const where = at !== undefined && src !== undefined ? ` (line ${src.slice(0, at).split('\n').length})` : '';
  return new HangarError('LIBVIRT_XML_INVALID', `The libvirt domain XML is not valid: ${message}${where}.`, { details: { reason: message } });
}

/** Replaces the predefined entities and character references; refuses any other entity. */
function decode(s: string, at: number, src: string): string {
  return s.replace(/&([^;&\s]*);?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) throw invalid('a bare "&" (write &amp;)', at, src);
    const pre = PREDEFINED[ref];
    if (pre !== undefined) return pre;
    const m = /^#(x[0-9a-fA-F]{1,6}|[0-9]{1,7})$/.exec(ref);
    if (m) {
      const cp = m[1]!.startsWith('x') ? parseInt(m[1]!.slice(1), 16) : parseInt(m[1]!, 10);
      if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw invalid(`the character reference &${ref}; is not a character`, at, src);
      return String.fromCodePoint(cp);
    }
    throw invalid(`the entity reference &${ref}; is not allowed (only &lt; &gt; &amp; &quot; &apos; and character references: entities are refused)`, at, src);
  });
}

/** Parses one XML document and returns its root element; LIBVIRT_XML_INVALID on anything else. */
export function parseXml(src: string): XmlElement {
  if (Buffer.byteLength(src, 'utf8') > MAX_XML_BYTES) throw invalid(`it is larger than ${MAX_XML_BYTES} bytes`);
  if (src.charCodeAt(0) === 0xfeff) src = src.slice(1);
  // Refused wherever they appear (also inside what would be a comment's neighbour): no DTDs here.
  const dtd = /<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST/i.exec(src);
  if (dtd) throw invalid(`it has a document type or entity declaration (${dtd[0]}): DTDs and entities are refused`, dtd.index, src);
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const skipSpace = () => {
    while (i < src.length && /\s/.test(src[i]!)) i++;
  };
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    const textEnd = lt === -1 ? src.length : lt;
    if (textEnd > i) {
      const raw = src.slice(i, textEnd);
      if (stack.length === 0) {
        if (raw.trim() !== '') throw invalid('text outside the root element', i, src);
      } else {
        if (raw.includes(']]>')) throw invalid('"]]>" in text', i, src);
        stack[stack.length - 1]!.text += decode(raw, i, src);
      }
    }
    if (lt === -1) break;
    i = lt;
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i + 4);
      if (end === -1) throw invalid('an unterminated comment', i, src);
      i = end + 3;
    } else if (src.startsWith('<![CDATA[', i)) {
      if (stack.length === 0) throw invalid('CDATA outside the root element', i, src);
      const end = src.indexOf(']]>', i + 9);
      if (end === -1) throw invalid('an unterminated CDATA section', i, src);
      stack[stack.length - 1]!.text += src.slice(i + 9, end);
      i = end + 3;
    } else if (src.startsWith('<?', i)) {
      const end = src.indexOf('?>', i + 2);
      if (end === -1) throw invalid('an unterminated processing instruction', i, src);
      i = end + 2;
    } else if (src.startsWith('<!', i)) {
      throw invalid('a markup declaration', i, src);
    } else if (src.startsWith('</', i)) {
      const m = NAME.exec(src.slice(i + 2, i + 2 + 256));
      const open = stack.pop();
      if (!m || !open) throw invalid('a closing tag without an opening one', i, src);
      if (m[0] !== open.name) throw invalid(`</${m[0]}> closes <${open.name}>`, i, src);
      i += 2 + m[0].length;
      skipSpace();
      if (src[i] !== '>') throw invalid(`a malformed closing tag </${m[0]}>`, i, src);
      i++;
    } else {
      const start = i;
      const m = NAME.exec(src.slice(i + 1, i + 1 + 256));
      if (!m) throw invalid('a "<" that starts no element (write &lt;)', i, src);
      if (root && stack.length === 0) throw invalid('more than one root element', i, src);
      if (stack.length >= MAX_DEPTH) throw invalid(`elements nested deeper than ${MAX_DEPTH}`, i, src);
      const el: XmlElement = { name: m[0], attrs: {}, children: [], text: '' };
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(el);
      else root = el;
      i += 1 + m[0].length;
      for (;;) {
        const before = i;
        skipSpace();
        if (src.startsWith('/>', i)) {
          i += 2;
          break;
        }
        if (src[i] === '>') {
          i++;
          stack.push(el);
          break;
        }
        if (i === before) throw invalid(`a malformed tag <${el.name}>`, start, src);
        const a = NAME.exec(src.slice(i, i + 256));
        if (!a) throw invalid(`a malformed attribute in <${el.name}>`, i, src);
        i += a[0].length;
        skipSpace();
        if (src[i] !== '=') throw invalid(`attribute ${a[0]} of <${el.name}> has no value`, i, src);
        i++;
        skipSpace();
        const q = src[i];
        if (q !== '"' && q !== "'") throw invalid(`attribute ${a[0]} of <${el.name}> is not quoted`, i, src);
        const end = src.indexOf(q, i + 1);
        if (end === -1) throw invalid(`attribute ${a[0]} of <${el.name}> is not closed`, i, src);
        const raw = src.slice(i + 1, end);
        if (raw.includes('<')) throw invalid(`"<" in attribute ${a[0]} of <${el.name}>`, i, src);
        if (Object.hasOwn(el.attrs, a[0])) throw invalid(`attribute ${a[0]} twice in <${el.name}>`, i, src);
        el.attrs[a[0]] = decode(raw, i, src);
        i = end + 1;
      }
    }
  }
  if (stack.length > 0) throw invalid(`<${stack[stack.length - 1]!.name}> is not closed`);
  if (!root) throw invalid('it has no root element');
  return root;
}

/** The first child element named `name`. */
export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}

/** Every child element named `name`. */
export function childrenNamed(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}
