/**
 * Reading libvirt domain XML (what `virsh dumpxml` writes) with the project's one strict
 * XML reader (src/util/safe-xml.ts): no DTD support at all, so a document type or entity
 * declaration, or any entity other than the five predefined ones and character references,
 * is refused (no XXE, no billion laughs); size and depth are bounded. Namespaced elements
 * keep their names as written (`qemu:commandline`). A refusal is LIBVIRT_XML_INVALID.
 */
import { HangarError } from '../../errors/errors.js';
import { parseXml as parseStrictXml, XmlRefusedError, type XmlElement } from '../../util/safe-xml.js';

export type { XmlElement };

export const MAX_XML_BYTES = 1024 * 1024;

/** Parses one XML document and returns its root element; LIBVIRT_XML_INVALID on anything else. */
export function parseXml(src: string): XmlElement {
  try {
    return parseStrictXml(src, { maxBytes: MAX_XML_BYTES, maxDepth: 64 });
  } catch (e) {
    if (!(e instanceof XmlRefusedError)) throw e;
    return invalid(e);
  }
}

function invalid(e: XmlRefusedError): never {
  throw new HangarError('LIBVIRT_XML_INVALID', `The libvirt domain XML is not valid: ${e.message}.`, { details: { reason: e.message, ...(e.line !== undefined && { line: e.line }) } });
}

/** The first child element named `name`. */
export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}

/** Every child element named `name`. */
export function childrenNamed(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}
