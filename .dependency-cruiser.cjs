/** Arrows point inwards only: infrastructure -> application -> domain. */

/**
 * The application's rooms, from the top floor down (ARCHITECTURE.md): a room may use the rooms
 * below it, never one above, so no two rooms use each other. Rooms on one floor don't use each other.
 */
const APPLICATION_FLOORS = [
  ['workers'],
  ['reconciliation'],
  ['deadlines', 'checkout'],
  ['payments', 'orders'],
  ['trades'],
  ['refunds', 'audit', 'process-manager'],
  ['observability', 'webhooks', 'reporting', 'open-work', 'queries'],
  ['log', 'event-sourcing'],
  ['ports', 'shared'],
];

const roomRules = APPLICATION_FLOORS.flatMap((floor, level) =>
  floor.map((room) => {
    const notBelow = [...APPLICATION_FLOORS.slice(0, level).flat(), ...floor.filter((other) => other !== room)];
    return {
      name: `room-${room}-uses-only-rooms-below`,
      comment: `src/application/${room} may use only the rooms on the floors below it (see APPLICATION_FLOORS).`,
      severity: 'error',
      from: { path: `^src/application/${room}/` },
      to: { path: `^src/application/(${notBelow.join('|')})/` },
    };
  }),
);

module.exports = {
  forbidden: [
    ...roomRules,
    {
      name: 'application-in-rooms',
      comment: 'Every application file lives in a room (a folder named for what it holds), none at the root.',
      severity: 'error',
      from: { path: '^src/application/[^/]+$' },
      to: {},
    },
    {
      name: 'application-rooms-listed',
      comment: 'A new application room takes its floor in APPLICATION_FLOORS.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: `^src/application/`, pathNot: `^src/application/(${APPLICATION_FLOORS.flat().join('|')})/` },
    },
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
