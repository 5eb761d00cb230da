/** `vm create --tpm`: the vTPM's flag and its part of the API's create body. */
import type { Command } from 'commander';
import type { CreateVmBody } from '../contract/index.js';

export interface TpmFlags {
  tpm?: boolean;
}

/** Adds `--tpm` to `vm create`. */
export function addTpmFlags(cmd: Command): Command {
  return cmd.option('--tpm', 'a TPM 2.0 (swtpm, state kept per VM): tpm-crb on q35, tpm-tis on pc; not for microvm');
}

/** The flags' part of the create body. */
export function tpmBody(o: TpmFlags): Pick<CreateVmBody, 'tpm'> {
  return o.tpm ? { tpm: true } : {};
}
