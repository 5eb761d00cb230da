/** cloud-init seeds: NoCloud (`cidata`) and config-drive v2 (`config-2`). */
export { hashPassword, verifyPassword, sha512Crypt } from './crypt.js';
export {
  validateCloudInit,
  parseSshKeyFile,
  validateSshKey,
  validateHostname,
  validateUserName,
  MAX_DOCUMENT_BYTES,
  type CloudInitInput,
} from './validate.js';
export { renderNoCloud, renderConfigDrive, renderUserData, type NoCloudFiles } from './render.js';
export { toNetworkData, type NetworkData } from './network-data.js';
export { buildSeedIso, type SeedLabel, type BuildSeedIsoOptions } from './iso.js';
export { seedArgv, type SeedArgvOptions } from './argv.js';
export { readInputFile, readSshKeyFile } from './files.js';
