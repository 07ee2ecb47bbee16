import assert from 'node:assert/strict';
import { spawn } from 'child_process';
import * as fs from 'fs';
import { describe, it } from 'node:test';
import * as path from 'path';
import { buildChannel } from '../../scripts/build';
import { runInSimulator, startSimulatorSession } from '../../scripts/lib/simulator';
import { MANIFEST, repoRoot, SCENE_MAIN, throwawayChannels } from './channels';

const throwaway = throwawayChannels();
const channel = throwaway.make;

describe('simulator runner', () => {
    it('passes when the app closes normally, with launch params in main(args) and the registry seeded and dumped', async () => {
        const dir = channel('hello', {
            manifest: MANIFEST,
            'source/main.brs': `sub main(args as object)
    print "launch source="; args.contentId
    reg = createObject("roRegistrySection", "cleeng")
    print "seeded="; reg.read("seed")
    reg.write("written", "yes")
    reg.flush()
end sub
`
        });
        const result = await runInSimulator({ app: dir, timeoutMs: 30000, launchParams: { contentId: 'abc123' }, registry: { cleeng: { seed: 'S-1' } } });
        assert.equal(result.reason, 'closed', result.message);
        assert.equal(result.ok, true);
        assert.ok(result.lines.includes('launch source=abc123'), result.lines.join('\n'));
        assert.ok(result.lines.includes('seeded=S-1'), result.lines.join('\n'));
        assert.deepEqual(result.registry.cleeng, { seed: 'S-1', written: 'yes' });
    });

    it('fails on a BrightScript crash and reports the error line and the backtrace', async () => {
        const dir = channel('crash', {
            manifest: MANIFEST,
            'source/main.brs': `sub main()
    print "before the crash"
    nothing = invalid
    print nothing.field.other
end sub
`
        });
        const result = await runInSimulator({ app: dir, timeoutMs: 30000 });
        assert.equal(result.ok, false);
        assert.equal(result.reason, 'crash', result.message);
        assert.ok(result.crash, 'crash details are reported');
        assert.match(result.crash.error, /pkg:\/source\/main\.brs\(4/);
        assert.ok(result.crash.backtrace.some((l) => l.includes('main.brs(4)')), result.crash.backtrace.join('\n'));
        assert.match(result.message, /crashed/);
    });

    it('fails with a timeout when the app never exits', async () => {
        const dir = channel('forever', {
            manifest: MANIFEST,
            'source/main.brs': `sub main()
    port = createObject("roMessagePort")
    print "waiting forever"
    while true
        wait(0, port)
    end while
end sub
`
        });
        const result = await runInSimulator({ app: dir, timeoutMs: 5000 });
        assert.equal(result.ok, false);
        assert.equal(result.reason, 'timeout');
        assert.match(result.message, /did not close within 5000 ms/);
        assert.ok(result.lines.includes('waiting forever'));
    });

    it('fails with compile-error when the package does not compile', async () => {
        const dir = channel('syntax', {
            manifest: MANIFEST,
            'source/main.brs': 'sub main()\n    if then x =\nend sub\n'
        });
        const result = await runInSimulator({ app: dir, timeoutMs: 30000 });
        assert.equal(result.ok, false);
        assert.equal(result.reason, 'compile-error', result.message);
        assert.match(result.message, /main\.brs\(2/);
    });

    it('presses scripted remote keys, waits for console text, and saves a PNG screenshot', async () => {
        const dir = channel('keys', {
            manifest: MANIFEST,
            'source/main.brs': SCENE_MAIN,
            'components/TestScene.xml': `<?xml version="1.0" encoding="utf-8" ?>
<component name="TestScene" extends="Scene">
    <interface><field id="done" type="boolean" /></interface>
    <script type="text/brightscript"><![CDATA[
sub init()
    m.top.setFocus(true)
    m.count = 0
    print "ready for keys"
end sub
function onKeyEvent(key as string, press as boolean) as boolean
    if press
        print "key pressed: "; key
        m.count = m.count + 1
        if m.count = 2 then m.top.done = true
    end if
    return true
end function
]]></script>
    <children><Rectangle width="1920" height="1080" color="0x336699FF" /></children>
</component>
`
        });
        const shots = channel('shots', {});
        const result = await runInSimulator({
            app: dir,
            timeoutMs: 30000,
            screenshotsDir: shots,
            keys: [{ when: 'ready for keys', waitMs: 300, screenshot: 'before' }, { key: 'Down' }, { when: 'key pressed: down', key: 'Select', waitMs: 200 }]
        });
        assert.equal(result.reason, 'closed', result.message + '\n' + result.lines.join('\n'));
        const pressed = result.lines.filter((l) => l.startsWith('key pressed: '));
        assert.deepEqual(pressed, ['key pressed: down', 'key pressed: OK']);
        assert.equal(result.screenshots.length, 1);
        const png = fs.readFileSync(result.screenshots[0]);
        assert.equal(png.subarray(1, 4).toString('ascii'), 'PNG');
        assert.ok(png.length > 1000);
    });

    it('fails a Rooibos run whose assertion fails, naming the failing test', async () => {
        const dir = channel('rooibos-fail', {
            manifest: MANIFEST,
            'bsconfig.test.json': JSON.stringify({
                rootDir: '.',
                files: ['manifest', 'source/**/*.bs'],
                plugins: ['rooibos-roku'],
                rooibos: { keepAppOpen: false, sendHomeOnFinish: false, failFast: false, showOnlyFailures: false, reporters: ['console'] }
            }),
            'source/main.bs': 'function main(args as object) as void\n    print "main"\nend function\n',
            'source/Sample.spec.bs': `namespace tests
    @suite("sample")
    class SampleTests extends rooibos.BaseTestSuite
        @describe("arithmetic")
        @it("adds correctly")
        function _()
            m.assertEqual(1 + 1, 2)
        end function

        @it("is wrong on purpose")
        function _()
            m.assertEqual(1 + 1, 3)
        end function
    end class
end namespace
`
        });
        const built = await buildChannel({ target: 'test', simulator: true, rootDir: dir, quiet: true });
        const result = await runInSimulator({ app: built.zipPath, timeoutMs: 60000, rooibos: true });
        assert.equal(result.ok, false);
        assert.equal(result.reason, 'rooibos-fail', result.message);
        assert.ok(result.rooibos);
        assert.equal(result.rooibos.result, 'FAIL');
        assert.equal(result.rooibos.passed, 1);
        assert.equal(result.rooibos.failed, 1);
        assert.ok(result.rooibos.tests.some((t) => t.status === 'FAIL' && t.name.includes('is wrong on purpose')), JSON.stringify(result.rooibos.tests));
    });

    it('fails a run that was expected to run Rooibos but printed no result', async () => {
        const dir = channel('no-rooibos', { manifest: MANIFEST, 'source/main.brs': 'sub main()\n    print "no tests here"\nend sub\n' });
        const result = await runInSimulator({ app: dir, timeoutMs: 30000, rooibos: true });
        assert.equal(result.ok, false);
        assert.equal(result.reason, 'rooibos-fail');
        assert.match(result.message, /no tests ran/);
    });

    it('shares one Chromium between runs, each with its own registry, also when runs go side by side', async () => {
        const dir = channel('shared', {
            manifest: MANIFEST,
            'source/main.brs': `sub main(args as object)
    reg = createObject("roRegistrySection", "shared")
    print "seen="; reg.read("mark"); " run="; args.run
    reg.write("mark", args.run)
    reg.flush()
end sub
`
        });
        const first = await runInSimulator({ app: dir, timeoutMs: 60000, launchParams: { run: 'one' } });
        assert.equal(first.reason, 'closed', first.message);
        assert.deepEqual(first.registry.shared, { mark: 'one' });
        const side = await Promise.all(['two', 'three', 'four'].map((run) => runInSimulator({ app: dir, timeoutMs: 60000, launchParams: { run } })));
        for (const [i, run] of ['two', 'three', 'four'].entries()) {
            const r = side[i]!;
            assert.equal(r.reason, 'closed', r.message);
            assert.ok(r.lines.includes(`seen= run=${run}`), `a fresh registry, not another run's: ${r.lines.join('\n')}`);
            assert.deepEqual(r.registry.shared, { mark: run });
        }
        assert.ok(side.some((r) => r.browserReused === true), 'later runs reuse the browser the first one started');
        const own = await runInSimulator({ app: dir, timeoutMs: 60000, launchParams: { run: 'own' }, sharedBrowser: false });
        assert.equal(own.reason, 'closed', own.message);
        assert.equal(own.browserReused, false);
    });

    it('lets a process that ran the simulator exit by itself once its runs are over', async () => {
        const dir = channel('exit', { manifest: MANIFEST, 'source/main.brs': 'sub main()\n    print "bye"\nend sub\n' });
        const script = `require(${JSON.stringify(path.join(repoRoot, 'scripts', 'lib', 'simulator.ts'))}).runInSimulator({ app: ${JSON.stringify(dir)}, timeoutMs: 60000 }).then((r) => console.log('reason=' + r.reason))`;
        const child = spawn(process.execPath, ['--require', 'ts-node/register', '-e', script], { env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (out += c.toString()));
        // A generous ceiling: only a process kept alive by a browser nobody closes gets near it.
        const killer = setTimeout(() => child.kill('SIGKILL'), 120000);
        const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
        clearTimeout(killer);
        assert.equal(signal, null, `the process had to be killed: it did not exit by itself\n${out}`);
        assert.equal(code, 0, out);
        assert.match(out, /reason=closed/);
    });

    it('reports the registry as written so far when the host stops a run', async () => {
        const dir = channel('stop-registry', {
            manifest: MANIFEST,
            'source/main.brs': `sub main()
    reg = createObject("roRegistrySection", "kept")
    reg.write("receipt", "tx-1")
    reg.flush()
    print "written"
    port = createObject("roMessagePort")
    while true
        wait(0, port)
    end while
end sub
`
        });
        let written!: () => void;
        const seen = new Promise<void>((resolve) => (written = resolve));
        const session = await startSimulatorSession({ app: dir, timeoutMs: 120000, onLine: (l) => l === 'written' && written() });
        await seen;
        const result = await session.stop();
        assert.equal(result.reason, 'stopped');
        assert.deepEqual(result.registry.kept, { receipt: 'tx-1' });
    });
});
