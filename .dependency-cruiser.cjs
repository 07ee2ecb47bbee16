/**
 * Import rules, checked by `npm test` (kind `deps`: scripts/check-deps.ts) with dependency-cruiser.
 * Paths are relative to the repo root. test/tooling/deps.test.ts proves each rule fires.
 */
module.exports = {
    forbidden: [
        {
            name: 'test-double-only-contract',
            severity: 'error',
            comment:
                'A test double knows only the documented contract of what it stands in for: it may import contract/, ' +
                'its own folder, node built-ins and npm packages, and nothing of the relay, the tooling or the tests.',
            from: { path: '^emulators/([^/]+)/' },
            to: {
                dependencyTypesNot: ['core', 'npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown'],
                pathNot: [
                    '^emulators/$1/',
                    '^contract/',
                    // The fake Roku device runs channels on the simulator: in tests the simulator is the device.
                    '^scripts/lib/(simulator|simulator-types|sim-transforms|zip)[.]ts$',
                ],
            },
        },
        {
            name: 'simulator-only-for-the-fake-roku',
            severity: 'error',
            comment: 'Only the fake Roku device (emulators/roku/) may use the simulator; the other doubles are plain services.',
            from: { path: '^emulators/', pathNot: '^emulators/roku/' },
            to: { path: '^scripts/' },
        },
        {
            name: 'relay-no-test-or-tooling',
            severity: 'error',
            comment: 'The relay ships on its own: it never imports test doubles, tests, tooling or benchmarks.',
            from: { path: '^relay/' },
            to: { path: '^(emulators|test|scripts|bench)/' },
        },
        {
            name: 'prod-build-no-simulator',
            severity: 'error',
            comment:
                'The production build and packaging (scripts/build.ts, scripts/package.ts and all they import) never load ' +
                'the simulator module or playwright-core.',
            from: { path: '^scripts/(build|package)[.]ts$' },
            to: { path: ['^scripts/lib/simulator[.]ts$', '(^|/)node_modules/playwright-core/', '^playwright-core$'], reachable: true },
        },
    ],
    options: {
        doNotFollow: { path: 'node_modules' },
        exclude: { path: '^(out|dist|node_modules)/' },
        tsPreCompilationDeps: true,
        tsConfig: { fileName: 'tsconfig.json' },
        enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    },
};
