/**
 * `npm run package -- --zip/--staging` applies the production checks and the secret scan of
 * `npm run build` to whatever it is given (D1: a re-packaged zip once carried the publisher token
 * and test fixtures into the store package).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import JSZip from 'jszip';
import { run as packageRun } from '../../scripts/package';
import { captureContext, cleanupTemp, MANIFEST, tempDir, writeChannel } from './support';

const TOKEN = 'pkg-check-publisher-token-6b6b6b6b';

after(() => cleanupTemp());

async function zipOf(files: Record<string, string>): Promise<string> {
    const zip = new JSZip();
    for (const [name, text] of Object.entries(files)) {
        zip.file(name, text);
    }
    const file = path.join(tempDir('in'), 'in.zip');
    fs.writeFileSync(file, await zip.generateAsync({ type: 'nodebuffer' }));
    return file;
}

describe('npm run package checks what it packages', { timeout: 60000 }, () => {
    const main = 'sub main()\n    print "ok"\nend sub\n';

    it('refuses a zip that holds the configured publisher token (raw or base64), and writes nothing', async () => {
        for (const leak of [TOKEN, Buffer.from(`{"t":"${TOKEN}"}`).toString('base64')]) {
            const cwd = tempDir('cwd');
            const input = await zipOf({ manifest: MANIFEST, 'source/main.brs': main, 'config/channel.json': `{"x":"${leak}"}` });
            const ctx = captureContext({ CLEENG_PUBLISHER_TOKEN: TOKEN }, cwd);
            assert.equal(await packageRun(['--zip', input, '--out', 'out.zip'], ctx), 2, ctx.all());
            assert.match(ctx.all(), /configured secret/);
            assert.match(ctx.all(), /CLEENG_PUBLISHER_TOKEN/);
            assert.ok(!ctx.all().includes(TOKEN), 'the secret itself is never printed');
            assert.equal(fs.existsSync(path.join(cwd, 'out.zip')), false);
        }
    });

    it('refuses test code and csFake fixtures, from --zip and from --staging', async () => {
        const cwd = tempDir('cwd');
        const input = await zipOf({ manifest: MANIFEST, 'source/main.brs': main, 'source/tests/Flow.spec.brs': main, 'csfake/store.json': '{}' });
        const ctx = captureContext({}, cwd);
        assert.equal(await packageRun(['--zip', input, '--out', 'out.zip'], ctx), 2);
        assert.match(ctx.all(), /csFake fixtures must not ship/);
        assert.match(ctx.all(), /test code must not ship/);
        const dir = writeChannel(tempDir('staging'), { manifest: MANIFEST, 'source/main.brs': main, 'components/Store.xml': '<component name="S"><children><ChannelStore id="s" fakeServer="true"/></children></component>' });
        const ctx2 = captureContext({}, cwd);
        assert.equal(await packageRun(['--staging', dir, '--out', 'out2.zip'], ctx2), 2, ctx2.all());
        assert.match(ctx2.all(), /fakeServer must never be on/);
        assert.equal(fs.existsSync(path.join(cwd, 'out2.zip')), false);
    });

    it('a clean zip still packages', async () => {
        const cwd = tempDir('cwd');
        const input = await zipOf({ manifest: MANIFEST, 'source/main.brs': main });
        const ctx = captureContext({ CLEENG_PUBLISHER_TOKEN: TOKEN }, cwd);
        assert.equal(await packageRun(['--zip', input, '--out', 'ok.zip'], ctx), 0, ctx.all());
        assert.ok(fs.existsSync(path.join(cwd, 'ok.zip')));
    });
});
