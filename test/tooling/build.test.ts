import assert from 'node:assert/strict';
import * as fs from 'fs';
import JSZip from 'jszip';
import { describe, it } from 'node:test';
import * as path from 'path';
import { buildChannel, BuildError, checkProductionStaging } from '../../scripts/build';
import { MANIFEST, repoRoot, throwawayChannels } from './channels';

const throwaway = throwawayChannels();
const project = throwaway.make;

const PROD_CONFIG = JSON.stringify({
    rootDir: '.',
    files: ['manifest', 'source/**/*.bs', '!**/*.spec.*'],
    plugins: ['@rokucommunity/bslint'],
    lintConfig: 'bslint.json'
});

describe('build', () => {
    it('fails on a compiler error and names file:line', async () => {
        const dir = project('compile-error', {
            manifest: MANIFEST,
            'bsconfig.json': PROD_CONFIG,
            'bslint.json': '{}',
            'source/main.bs': 'function main() as void\n    x = callsNothing(\nend function\n'
        });
        await assert.rejects(buildChannel({ target: 'prod', rootDir: dir, quiet: true }), (err: unknown) => {
            assert.ok(err instanceof BuildError);
            assert.ok(err.diagnostics.some((d) => /source\/main\.bs:2:\d+ error/.test(d)), err.diagnostics.join('\n'));
            return true;
        });
    });

    it('fails on a bslint finding and names file:line and the rule', async () => {
        const dir = project('lint-error', {
            manifest: MANIFEST,
            'bsconfig.json': PROD_CONFIG,
            'bslint.json': JSON.stringify({ rules: { 'unused-variable': 'error' } }),
            'source/main.bs': 'function main() as void\n    unused = 1\nend function\n'
        });
        await assert.rejects(buildChannel({ target: 'prod', rootDir: dir, quiet: true }), (err: unknown) => {
            assert.ok(err instanceof BuildError);
            assert.ok(err.diagnostics.some((d) => /source\/main\.bs:2:5 error bslint LINT1005/.test(d)), err.diagnostics.join('\n'));
            return true;
        });
    });

    it('builds the real channel for production with no test code, no csfake and no source maps', async () => {
        const out = path.join(repoRoot, 'out', 'tmp', `prod-${process.pid}.zip`);
        throwaway.track(out);
        const result = await buildChannel({ target: 'prod', outFile: out, quiet: true });
        const zip = await JSZip.loadAsync(fs.readFileSync(result.zipPath));
        const names = Object.keys(zip.files);
        assert.ok(names.includes('manifest'));
        assert.ok(names.includes('source/main.brs'));
        assert.deepEqual(names.filter((n) => /spec|rooibos|csfake|\.map$/i.test(n)), []);
    });

    it('refuses a production staging folder with csfake fixtures, spec files or fakeServer on', () => {
        const dir = project('bad-staging', {
            manifest: MANIFEST,
            'csfake/GetCatalog.xml': '<result/>',
            'source/Thing.spec.brs': 'sub x()\nend sub\n',
            'components/Store.brs': 'sub init()\n    m.store.fakeServer = true\nend sub\n',
            'components/Store.xml': '<component name="S" extends="Group"><children><ChannelStore id="s" fakeServer="true" /></children></component>'
        });
        const problems = checkProductionStaging(dir);
        assert.ok(problems.some((p) => p.startsWith('csfake')), problems.join('\n'));
        assert.ok(problems.some((p) => p.includes('Thing.spec.brs')), problems.join('\n'));
        assert.ok(problems.some((p) => p.startsWith('components/Store.brs:2')), problems.join('\n'));
        assert.ok(problems.some((p) => p.startsWith('components/Store.xml:1')), problems.join('\n'));
    });

    it('accepts a clean production staging folder', () => {
        const dir = project('good-staging', {
            manifest: MANIFEST,
            'components/Store.brs': 'sub init()\n    \' fakeServer = true is for tests only\n    m.store.fakeServer = false\nend sub\n'
        });
        assert.deepEqual(checkProductionStaging(dir), []);
    });
});

describe('secret check of the production build', () => {
    it('refuses a package that contains a configured secret, naming the file and the variable but not the value', async () => {
        const token = 'pt_live_9f8e7d6c5b4a39281706';
        const dir = project('planted-secret', {
            manifest: MANIFEST,
            'bsconfig.json': JSON.stringify({ rootDir: '.', files: ['manifest', 'source/**/*.bs'] }),
            'source/main.bs': `function main() as void\n    print "${token}"\nend function\n`
        });
        await assert.rejects(buildChannel({ target: 'prod', rootDir: dir, quiet: true, env: { CLEENG_PUBLISHER_TOKEN: token } }), (err: unknown) => {
            assert.ok(err instanceof BuildError);
            assert.match(err.message, /contains a configured secret/);
            assert.ok(err.diagnostics.some((d) => d.startsWith('source/main.brs: contains CLEENG_PUBLISHER_TOKEN')), err.diagnostics.join('\n'));
            assert.ok(!err.diagnostics.join('\n').includes(token), 'the secret itself is never printed');
            return true;
        });
        assert.equal(fs.existsSync(path.join(dir, 'out', 'prod.zip')), false, 'no package is left behind');
    });

    it('builds the same channel when the secret is configured but not in the package', async () => {
        const dir = project('no-secret', {
            manifest: MANIFEST,
            'bsconfig.json': JSON.stringify({ rootDir: '.', files: ['manifest', 'source/**/*.bs'] }),
            'source/main.bs': 'function main() as void\n    print "hello"\nend function\n'
        });
        const result = await buildChannel({ target: 'prod', rootDir: dir, quiet: true, env: { CLEENG_PUBLISHER_TOKEN: 'pt_live_9f8e7d6c5b4a39281706' } });
        assert.ok(fs.existsSync(result.zipPath));
    });

    it('refuses direct mode for a production build and says why', async () => {
        await assert.rejects(buildChannel({ target: 'prod', quiet: true, env: { CLEENG_MODE: 'direct', CLEENG_PUBLISHER_TOKEN: 'pt_sandbox_0123456789' } }), /direct is refused for a production build: it would put the Cleeng publisher token inside the channel package/);
    });
});

describe('build cache', () => {
    const entries = async (zipPath: string): Promise<Record<string, string>> => {
        const zip = await JSZip.loadAsync(fs.readFileSync(zipPath));
        const out: Record<string, string> = {};
        for (const [name, entry] of Object.entries(zip.files)) {
            if (!entry.dir) {
                out[name] = await entry.async('string');
            }
        }
        return out;
    };

    it('reuses a compile with the same inputs, and compiles again when a source file or the config changes', async () => {
        const dir = project('cache', {
            manifest: MANIFEST,
            'bsconfig.json': PROD_CONFIG,
            'bslint.json': '{}',
            'source/main.bs': 'function main() as void\n    print "first"\nend function\n'
        });
        const first = await buildChannel({ target: 'prod', rootDir: dir, quiet: true, env: {} });
        assert.equal(first.cached, false);
        const again = await buildChannel({ target: 'prod', rootDir: dir, quiet: true, env: {} });
        assert.equal(again.cached, true);
        assert.deepEqual(await entries(again.zipPath), await entries(first.zipPath));

        fs.writeFileSync(path.join(dir, 'source', 'main.bs'), 'function main() as void\n    print "second"\nend function\n');
        const changed = await buildChannel({ target: 'prod', rootDir: dir, quiet: true, env: {} });
        assert.equal(changed.cached, false);
        assert.match((await entries(changed.zipPath))['source/main.brs'] ?? '', /"second"/);

        // The channel config is written after the compile: a new environment reuses the compile and still lands in the zip.
        const otherEnv = await buildChannel({ target: 'prod', rootDir: dir, quiet: true, env: { RELAY_URL: 'https://relay.example.com' } });
        assert.equal(otherEnv.cached, true);
        assert.match((await entries(otherEnv.zipPath))['config/channel.json'] ?? '', /relay\.example\.com/);

        const uncached = await buildChannel({ target: 'prod', rootDir: dir, quiet: true, env: {}, cache: false });
        assert.equal(uncached.cached, false);
    });

    it('never stores a build that failed: fixing the file compiles again', async () => {
        const dir = project('cache-fail', {
            manifest: MANIFEST,
            'bsconfig.json': PROD_CONFIG,
            'bslint.json': JSON.stringify({ rules: { 'unused-variable': 'error' } }),
            'source/main.bs': 'function main() as void\n    unused = 1\nend function\n'
        });
        await assert.rejects(buildChannel({ target: 'prod', rootDir: dir, quiet: true, env: {} }), BuildError);
        await assert.rejects(buildChannel({ target: 'prod', rootDir: dir, quiet: true, env: {} }), BuildError, 'the same broken inputs fail again');
        fs.writeFileSync(path.join(dir, 'source', 'main.bs'), 'function main() as void\n    print "fixed"\nend function\n');
        const fixed = await buildChannel({ target: 'prod', rootDir: dir, quiet: true, env: {} });
        assert.equal(fixed.cached, false);
        fs.writeFileSync(path.join(dir, 'bslint.json'), JSON.stringify({ rules: { 'unused-variable': 'error', 'eol-last': 'error' } }));
        const newLint = await buildChannel({ target: 'prod', rootDir: dir, quiet: true, env: {} });
        assert.equal(newLint.cached, false, 'a changed bslint config is a new key');
    });
});
