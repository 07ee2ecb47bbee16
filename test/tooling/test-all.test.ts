import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findNodeTests, orderByTimings, parseTestAllArgs, tapCounts } from '../../scripts/test-all';

describe('npm test runner', () => {
    it('starts the longest node:test files first, new files before any timed one', () => {
        const order = orderByTimings(['a.test.ts', 'b.test.ts', 'c.test.ts', 'new.test.ts'], { 'a.test.ts': 1000, 'b.test.ts': 90000, 'c.test.ts': 5000 });
        assert.deepEqual(order, ['new.test.ts', 'b.test.ts', 'c.test.ts', 'a.test.ts']);
    });

    it('with no timings, starts the files that run the simulator first', () => {
        const order = orderByTimings(['test/contract/a.test.ts', 'test/e2e/z.test.ts', 'test/tooling/b.test.ts', 'test/cleeng/y.test.ts'], {});
        assert.deepEqual(order, ['test/cleeng/y.test.ts', 'test/e2e/z.test.ts', 'test/contract/a.test.ts', 'test/tooling/b.test.ts']);
    });

    it('counts passes, failures and cancellations from a TAP report', () => {
        assert.deepEqual(tapCounts('TAP version 13\nok 1 - x\n# tests 5\n# pass 3\n# fail 1\n# cancelled 1\n'), { passed: 3, failed: 2 });
        assert.deepEqual(tapCounts(''), { passed: 0, failed: 0 });
    });

    it('reads --only, --jobs, --serial and paths', () => {
        assert.deepEqual(parseTestAllArgs([], {}), { jobs: 4, serial: false, paths: [] });
        assert.deepEqual(parseTestAllArgs(['--only', 'typecheck,node', '--jobs', '2'], {}), { only: ['typecheck', 'node'], jobs: 2, serial: false, paths: [] });
        assert.deepEqual(parseTestAllArgs(['--serial'], { TEST_JOBS: '4' }), { jobs: 1, serial: true, paths: [] });
        assert.deepEqual(parseTestAllArgs(['test/e2e'], { TEST_JOBS: '4' }), { only: ['node'], jobs: 4, serial: false, paths: ['test/e2e'] });
        assert.throws(() => parseTestAllArgs(['--jobs', '0'], {}), /--jobs/);
        assert.throws(() => parseTestAllArgs(['--fast'], {}), /unknown option --fast/);
    });

    it('finds every *.test.ts file under test/, this one included', () => {
        const files = findNodeTests();
        assert.ok(files.includes('test/tooling/test-all.test.ts'), files.join('\n'));
        assert.ok(files.every((f) => f.endsWith('.test.ts')));
    });
});
