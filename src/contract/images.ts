/** Images VMs boot from: the built-in ones and imported disk images. */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';

export const Image = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    status: Type.Union([Type.Literal('ready'), Type.Literal('building'), Type.Literal('missing'), Type.Literal('failed')]),
    kind: Type.Union([Type.Literal('kernel'), Type.Literal('disk'), Type.Literal('iso')], { description: 'kernel: direct kernel boot; disk: VMs get a disk cloned from it; iso: installer media (ISO 9660) for CD-ROM drives.' }),
    origin: Type.Union([Type.Literal('builtin'), Type.Literal('imported')]),
    disk: Type.Optional(Type.Object({ path: Type.String(), format: Type.String(), virtualSizeBytes: Type.Integer() })),
    iso: Type.Optional(Type.Object({ path: Type.String(), sizeBytes: Type.Integer() }, { description: 'The ISO file of an iso image.' })),
    sha256: Type.Optional(Type.String()),
    source: Type.Optional(Type.Object({ url: Type.Optional(Type.String()), file: Type.Optional(Type.String()), vm: Type.Optional(Type.String({ description: 'The VM it was made from (image create --from-vm).' })) })),
    importedAt: Type.Optional(Type.String()),
    kernelVersion: Type.Optional(Type.String()),
    builtAt: Type.Optional(Type.String()),
    error: Type.Optional(Type.String()),
  },
  { $id: 'Image' },
);

export const ImportImageBody = Type.Object(
  {
    name: Type.String({ description: 'Image name (letters, digits, . _ -).' }),
    url: Type.Optional(Type.String({ description: 'http(s) URL to download (resumable where the server allows).' })),
    file: Type.Optional(Type.String({ description: 'Absolute path of a file on the daemon host.' })),
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'Expected SHA-256 of the file as downloaded; required for URLs unless allowUnverified.' })),
    allowUnverified: Type.Optional(Type.Boolean()),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  strict,
);
export const ImageParam = Type.Object({ name: Type.String() }, strict);

export type Image = Static<typeof Image>;
export type ImportImageBody = Static<typeof ImportImageBody>;
export type ImageParam = Static<typeof ImageParam>;
