/** The vTPM's fields in the VM schemas (create body and the VM as shown). */
import { Type } from '@sinclair/typebox';
import { strict } from './common.js';

/** Spread into CreateVmBody. */
export const TpmCreateFields = {
  tpm: Type.Optional(Type.Boolean({
    description: 'A TPM 2.0 backed by swtpm, run as the guest\'s own user, its state kept per VM (it moves with save/restore, memory snapshots and live migration; deleted with the VM): tpm-crb on q35, tpm-tis on pc. Refused on microvm (INVALID_SPEC) and when swtpm is not installed (TPM_UNAVAILABLE). Default false.',
  })),
};

/** Spread into Vm. */
export const TpmVmFields = {
  tpm: Type.Optional(Type.Object({
    model: Type.Union([Type.Literal('crb'), Type.Literal('tis')], { description: 'The guest\'s TPM interface: tpm-crb (q35) or tpm-tis (pc).' }),
    version: Type.Literal('2.0'),
  }, { ...strict, description: 'The VM has a vTPM (swtpm).' })),
};
