/** Arrows point inwards only: infrastructure -> application -> domain. */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'src/domain is plain TypeScript: no framework, driver, Node built-in, or outer layer.',
      severity: 'error',
      from: { path: '^src/domain' },
      to: { pathNot: '^src/domain' },
    },
    {
      name: 'application-not-infrastructure',
      comment: 'Use cases depend on ports, never on adapters.',
      severity: 'error',
      from: { path: '^src/application' },
      to: { path: '^src/infrastructure' },
    },
    {
      name: 'eventstoredb-client-public-api',
      comment: "The EventStoreDB adapter uses @eventstore/db-client's public API (the package root), never its internals or generated protobuf files.",
      severity: 'error',
      from: { path: '^src' },
      to: { path: '^node_modules/@eventstore/db-client/(generated/|dist/(?!index\\.js$))' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
