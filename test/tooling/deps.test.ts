/**
 * The import rules of `npm test`'s `deps` step fire: each on a throwaway tree that breaks it
 * (and not on one that keeps it), and the repo itself keeps them all.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkBrightScriptDoubles, cruise } from '../../scripts/check-deps';

const repoRoot = path.resolve(__dirname, '..', '..');

function tree(name: string, files: Record<string, string>): string {
    const dir = path.join(repoRoot, 'out', 'tmp', `deps-${name}-${process.pid}`);
    fs.rmSync(dir, { recursive: true, force: true });
    for (const [rel, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), text);
    }
    return dir;
}

const TSCONFIG = JSON.stringify({ compilerOptions: { module: 'commonjs', strict: true } });

describe('dependency rules (dependency-cruiser)', () => {
    const dirs: string[] = [];
    let bad: string;
    let good: string;
    let violations = '';

    before(async () => {
        bad = tree('bad', {
            'tsconfig.json': TSCONFIG,
            'contract/shape.ts': 'export const shape = 1;\n',
            'emulators/fake/own.ts': 'export const own = 1;\n',
            'emulators/fake/server.ts': "import { own } from './own';\nimport { shape } from '../../contract/shape';\nimport { check } from '../../relay/check';\nexport const s = own + shape + check;\n",
            'emulators/other/runner.ts': "import { run } from '../../scripts/lib/simulator';\nexport const r = run;\n",
            'emulators/roku/device.ts': "import { run } from '../../scripts/lib/simulator';\nimport { help } from '../../scripts/lib/helper';\nexport const d = run + help;\n",
            'relay/check.ts': "import * as fs from 'fs';\nexport const check = typeof fs;\n",
            'relay/server.ts': "import { own } from '../emulators/fake/own';\nimport { t } from '../test/t';\nexport const x = own + t;\n",
            'test/t.ts': 'export const t = 1;\n',
            'scripts/lib/helper.ts': "import { run } from './simulator';\nexport const help = run;\n",
            'scripts/lib/simulator.ts': "import { chromium } from 'playwright-core';\nexport const run = typeof chromium;\n",
            'scripts/build.ts': "import { help } from './lib/helper';\nexport const b = help;\n",
            'scripts/package.ts': "import { chromium } from 'playwright-core';\nexport const p = chromium;\n"
        });
        good = tree('good', {
            'tsconfig.json': TSCONFIG,
            'contract/shape.ts': 'export const shape = 1;\n',
            'emulators/fake/server.ts': "import * as http from 'http';\nimport Ajv from 'ajv';\nimport { shape } from '../../contract/shape';\nexport const s = [http, Ajv, shape];\n",
            'emulators/roku/device.ts': "import { run } from '../../scripts/lib/simulator';\nexport const d = run;\n",
            'relay/server.ts': "import { shape } from '../contract/shape';\nexport const x = shape;\n",
            'scripts/lib/simulator.ts': "import { chromium } from 'playwright-core';\nexport const run = typeof chromium;\n",
            'scripts/lib/zip.ts': "import JSZip from 'jszip';\nexport const zip = JSZip;\n",
            'scripts/build.ts': "import { zip } from './lib/zip';\nexport const b = zip;\n",
            'scripts/package.ts': "import { b } from './build';\nexport const p = b;\n",
            'test/e2e.ts': "import { run } from '../scripts/lib/simulator';\nimport { s } from '../emulators/fake/server';\nimport { x } from '../relay/server';\nexport const t = [run, s, x];\n"
        });
        dirs.push(bad, good);
        const r = await cruise(bad);
        assert.equal(r.ok, false, r.output);
        violations = r.output;
    });
    after(() => {
        for (const d of dirs) {
            fs.rmSync(d, { recursive: true, force: true });
        }
    });

    const fired = (rule: string, from: string, to: RegExp): boolean =>
        violations.split('\n').some((l) => l.includes(`${rule}:`) && l.includes(from) && to.test(l.slice(l.indexOf('→'))));

    it('test-double-only-contract: a fake importing the relay is refused; its own folder and contract/ are not', () => {
        assert.ok(fired('test-double-only-contract', 'emulators/fake/server.ts', /relay\/check\.ts/), violations);
        assert.ok(!violations.includes('emulators/fake/server.ts → emulators/fake/own.ts'), violations);
        assert.ok(!violations.includes('→ contract/shape.ts'), violations);
    });

    it('simulator-only-for-the-fake-roku: only emulators/roku may run channels on the simulator, and nothing else of scripts/', () => {
        assert.ok(fired('simulator-only-for-the-fake-roku', 'emulators/other/runner.ts', /scripts\/lib\/simulator\.ts/), violations);
        assert.ok(fired('test-double-only-contract', 'emulators/roku/device.ts', /scripts\/lib\/helper\.ts/), violations);
        assert.ok(!violations.includes('emulators/roku/device.ts → scripts/lib/simulator.ts'), violations);
    });

    it('relay-no-test-or-tooling: the relay importing a test double or a test is refused', () => {
        assert.ok(fired('relay-no-test-or-tooling', 'relay/server.ts', /emulators\/fake\/own\.ts/), violations);
        assert.ok(fired('relay-no-test-or-tooling', 'relay/server.ts', /test\/t\.ts/), violations);
    });

    it('prod-build-no-simulator: the build reaching the simulator through a helper, and packaging loading playwright-core, are refused', () => {
        assert.ok(fired('prod-build-no-simulator', 'scripts/build.ts', /scripts\/lib\/simulator\.ts/), violations);
        assert.ok(fired('prod-build-no-simulator', 'scripts/package.ts', /playwright-core/), violations);
    });

    it('a tree that keeps the rules passes (tests may use anything; the fake Roku may use the simulator)', async () => {
        const r = await cruise(good);
        assert.equal(r.ok, true, r.output);
    });

    it('the repo keeps every rule', async () => {
        const r = await cruise();
        assert.equal(r.ok, true, r.output);
        assert.match(r.output, /no dependency violations found/);
    });
});

describe('dependency rules for BrightScript test doubles', () => {
    it('an import or script uri outside the double and the generated contract is refused', () => {
        const dir = tree('bs', {
            'test/components/Fake/Fake.xml': '<component name="Fake" extends="Node">\n<script type="text/brightscript" uri="pkg:/source/flow/Flow.bs" />\n<script uri="Fake.bs" />\n</component>\n',
            'test/components/Fake/Fake.bs': 'import "pkg:/source/lib/OfferMapping.bs"\nimport "pkg:/source/generated/Contract.bs"\nimport "Helper.bs"\nimport "../../../source/cleeng/Receipt.bs"\n',
            'test/components/Fake/Fake.spec.bs': 'import "pkg:/source/anything.bs"\n'
        });
        try {
            const problems = checkBrightScriptDoubles(dir, ['test/components/Fake']);
            assert.equal(problems.length, 3, problems.join('\n'));
            assert.ok(problems.some((p) => p.includes('Fake.xml') && p.includes('pkg:/source/flow/Flow.bs')));
            assert.ok(problems.some((p) => p.includes('Fake.bs') && p.includes('pkg:/source/lib/OfferMapping.bs')));
            assert.ok(problems.some((p) => p.includes('Fake.bs') && p.includes('../../../source/cleeng/Receipt.bs')));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it('the repo’s BrightScript doubles keep the rule', () => {
        assert.deepEqual(checkBrightScriptDoubles(), []);
    });
});
