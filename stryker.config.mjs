// `npm run mutate`: mutation testing (StrykerJS) of the pure, cheap parts — the unit-file layer,
// the restart policy, Accept=yes instance names, the notify message parser and the control
// protocol — against the tests that cover them. Not part of `npm test`: a run takes tens of
// minutes on one CPU. Scores and what survives: README.md, "Tests".

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: [
    'src/unit/**/*.ts',
    'src/manager/service/restart-policy.ts',
    'src/manager/accept/instance-name.ts',
    'src/manager/service/notify-socket.ts',
    'src/manager/service/notification.ts',
    'src/manager/control/protocol.ts',
  ],
  // Mutation switching: every mutant is compiled into the sandbox's code once, by the project's
  // own test build, and a test process turns one on through an environment variable. So the
  // build runs once per run, not once per mutant.
  buildCommand: 'tsc -p tsconfig.test.json',
  // The tap runner runs each compiled node:test file as its own `node FILE` process (whose output
  // is TAP) and counts a file as one test: a mutant runs only the files that reached it, in the
  // order below, and stops at the first one that fails. The order is the layers' from the bottom
  // up, so a mutant meets its own file's test first. Left out: unit-fuzz, whose 34,000 random
  // inputs run ten times slower in instrumented code (~20 s of CPU a run) and which checks
  // invariants (no crash, round trips), while the example tests say what each rule does; and
  // unit-real-units, which reads this machine's own units, so the score would depend on the
  // machine (and it runs for every mutant no other file kills).
  testRunner: 'tap',
  tap: {
    testFiles: [
      'control-protocol',
      'manager-restart-policy',
      'manager-instance-name',
      'manager-notification',
      'manager-notify-socket',
      'unit-words',
      'unit-values',
      'unit-names',
      'unit-environment',
      'unit-exec-command',
      'unit-listen',
      'unit-specifiers',
      'unit-syntax',
      'unit-conditions',
      'unit-suggest',
      'unit-file-trust',
      'unit-key-table',
      'unit-socket-config',
      'unit-service-config',
      'unit-sandbox-config',
      'unit-exposure',
      'unit-install',
      'unit-load',
      'unit-load-unit',
    ].map((name) => `.test-build/test/${name}.test.js`),
    forceBail: true,
  },
  coverageAnalysis: 'perTest',
  // The machine is shared: one test process at a time, and a generous margin before a slow
  // mutant counts as an endless loop.
  concurrency: 1,
  timeoutMS: 10000,
  // TypeScript 7 has no JavaScript API, which Stryker's tsconfig rewriter calls; the tsconfigs
  // point nowhere outside the sandbox, so there is nothing to rewrite. A file that does not exist
  // turns the rewriter off.
  tsconfigFile: 'no-tsconfig-to-rewrite.json',
  ignorePatterns: ['dist', '.test-build', 'reports'],
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false },
};
