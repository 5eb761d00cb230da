// @ts-check
/**
 * The layers of src/, lowest first (docs/architecture.md explains them). A folder may import
 * folders of lower layers only: never one of its own layer, never a higher one. Type-only
 * imports count too. `npm run lint:layers` checks it (part of `npm test`).
 */
const LAYERS = [
  ['errors', 'policy', 'version.ts'],
  ['util'],
  ['model'],
  ['contract', 'qmp', 'qga', 'cloudinit', 'console', 'security', 'etcd'],
  ['store', 'qemu', 'resources', 'client', 'logd'],
  ['host', 'events'],
  ['operations', 'network', 'storage', 'projects', 'cluster', 'hooks'],
  ['images'],
  ['vm'],
  ['snapshots', 'backup', 'metrics', 'audit', 'auth', 'interop', 'profiles'],
  ['migration'],
  ['templates'],
  ['api'],
  ['daemon'],
  ['declarative'],
  ['cli'],
];

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const pathOf = (names) => `^src/(${names.map(escapeRegExp).join('|')})($|/)`;

/** @type {import('dependency-cruiser').IForbiddenRuleType[]} */
const layerRules = LAYERS.flatMap((layer, i) => {
  const above = LAYERS.slice(i + 1).flat();
  const rules = [];
  if (above.length > 0) {
    rules.push({
      name: `layer-${layer.join('-')}-up`,
      comment: `${layer.join(', ')} may not import a higher layer (${above.join(', ')}): move the shared part down, or invert the dependency.`,
      severity: 'error',
      from: { path: pathOf(layer) },
      to: { path: pathOf(above) },
    });
  }
  for (const folder of layer) {
    const peers = layer.filter((f) => f !== folder);
    if (peers.length === 0) continue;
    rules.push({
      name: `layer-${folder}-peer`,
      comment: `${folder} may not import a folder of its own layer (${peers.join(', ')}): layers are imported downward only.`,
      severity: 'error',
      from: { path: pathOf([folder]) },
      to: { path: pathOf(peers) },
    });
  }
  return rules;
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-folder-cycle',
      comment: 'No cycle between the top-level folders of src/ (type-only imports included).',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/[^/]+$' },
      to: { circular: true, path: '^src/[^/]+$' },
    },
    {
      name: 'no-unlisted-folder',
      comment: 'Every top-level folder of src/ has a layer in .dependency-cruiser.cjs: add the new one there.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/', pathNot: pathOf(LAYERS.flat()) },
    },
    {
      name: 'no-unlisted-folder-imports',
      comment: 'Every top-level folder of src/ has a layer in .dependency-cruiser.cjs: add the new one there.',
      severity: 'error',
      from: { path: '^src/', pathNot: pathOf(LAYERS.flat()) },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: [] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
