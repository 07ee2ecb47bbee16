/**
 * The fake Roku with the real runner (brs-engine in headless Chromium), end to end:
 * npm run sideload, npm run screenshot, and npm run test:device on Rooibos builds made by the
 * project's own buildChannel, exactly as against a device.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeRoku, type FakeRoku } from '../../emulators/roku/fake-roku';
import { simulatorRunner, simulatorWorkarounds } from '../../emulators/roku/runner';
import { buildChannel } from '../../scripts/build';
import { run as screenshotRun } from '../../scripts/screenshot';
import { run as sideload } from '../../scripts/sideload';
import { run as testDevice } from '../../scripts/test-device';
import { captureContext, cleanupTemp, MANIFEST, rokuEnv, tempDir, until, writeChannel } from './support';

const PASSWORD = 'Real-Runner-Pw';
const repoRoot = path.resolve(__dirname, '..', '..');
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const skip = fs.existsSync(chromium) ? false : `no Chromium at ${chromium} (set CHROMIUM_PATH)`;

/** Projects live under out/tmp so bsc finds rooibos-roku in the repo's node_modules. */
const projects: string[] = [];
function project(name: string, files: Record<string, string>): string {
    const dir = path.join(repoRoot, 'out', 'tmp', `device-${name}-${process.pid}-${Date.now()}`);
    projects.push(dir);
    return writeChannel(dir, files);
}

function rooibosProject(name: string, withFailure: boolean): string {
    return project(name, {
        manifest: MANIFEST,
        'bsconfig.test.json': JSON.stringify({
            rootDir: '.',
            files: ['manifest', 'source/**/*.bs'],
            plugins: ['rooibos-roku'],
            rooibos: { keepAppOpen: false, sendHomeOnFinish: false, failFast: false, showOnlyFailures: false, catchCrashes: true, reporters: ['console'] }
        }),
        'source/main.bs': 'function main(args as object) as void\n    print "main"\nend function\n',
        'source/Pricing.spec.bs': `namespace tests
    @suite("Pricing")
    class PricingTests extends rooibos.BaseTestSuite
        @describe("monthly price")
        @it("formats cents")
        function _()
            m.assertEqual(str(499).trim(), "499")
        end function

        @it("adds tax")
        function _()
            m.assertEqual(100 + 20, ${withFailure ? '130' : '120'})
        end function
    end class
end namespace
`
    });
}

describe('fake Roku with the simulator runner', { skip, timeout: 240000 }, () => {
    let roku: FakeRoku;

    before(async () => {
        roku = await startFakeRoku({ password: PASSWORD, runner: await simulatorRunner(), transformApp: simulatorWorkarounds });
    });
    after(async () => {
        await roku?.close();
        cleanupTemp();
        projects.forEach((p) => fs.rmSync(p, { recursive: true, force: true }));
    });

    it('npm run sideload runs the channel: its print reaches the device console', async () => {
        const channel = writeChannel(tempDir('hello'), {
            manifest: MANIFEST,
            'source/main.brs': 'sub main(args as dynamic)\n    print "hello from the fake device"\nend sub\n'
        });
        const ctx = captureContext(rokuEnv(roku, PASSWORD), tempDir('cwd'));
        assert.equal(await sideload(['--staging', channel], ctx), 0, ctx.all());
        await until(() => roku.consoleLines.some((l) => l.includes("[beacon.report] |AppExitComplete")), 60000, 'the channel to finish');
        const lines = [...roku.consoleLines];
        assert.ok(lines.includes('hello from the fake device'), lines.join('\n'));
        assert.ok(lines.includes("------ Running dev 'Device Test' main ------"), lines.join('\n'));
    });

    it('npm run screenshot saves the running SceneGraph channel\'s screen as a PNG', async () => {
        const channel = writeChannel(tempDir('scene'), {
            manifest: MANIFEST,
            'source/main.brs': `sub main()
    screen = createObject("roSGScreen")
    port = createObject("roMessagePort")
    screen.setMessagePort(port)
    screen.createScene("ShotScene")
    screen.show()
    print "scene shown"
    while true
        msg = wait(0, port)
        if type(msg) = "roSGScreenEvent" and msg.isScreenClosed() then return
    end while
end sub
`,
            'components/ShotScene.xml': `<?xml version="1.0" encoding="utf-8" ?>
<component name="ShotScene" extends="Scene">
    <children>
        <Rectangle width="1920" height="1080" color="0x1F6FEBFF" />
        <Label text="Screenshot test" translation="[200, 200]" />
    </children>
</component>
`
        });
        const env = rokuEnv(roku, PASSWORD);
        const cwd = tempDir('cwd');
        assert.equal(await sideload(['--staging', channel], captureContext(env, cwd)), 0);
        await until(() => roku.consoleLines.includes('scene shown'), 60000, 'the scene');
        const ctx = captureContext(env, cwd);
        assert.equal(await screenshotRun(['--out', 'screen.png'], ctx), 0, ctx.all());
        const png = fs.readFileSync(path.join(cwd, 'screen.png'));
        assert.equal(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG file');
        assert.ok(png.length > 1000, `${png.length} bytes`);
    });

    it('npm run test:device reports PASS for a passing Rooibos build, with JUnit XML', async () => {
        const built = await buildChannel({ target: 'test', rootDir: rooibosProject('rooibos-pass', false), quiet: true });
        const cwd = tempDir('cwd');
        const ctx = captureContext(rokuEnv(roku, PASSWORD), cwd);
        const code = await testDevice(['--zip', built.zipPath, '--timeout', '90s', '--quiet'], ctx);
        assert.equal(code, 0, ctx.all());
        assert.match(ctx.out.join(''), /2 tests, 2 passed, 0 failed, 0 crashed, 0 ignored: PASS/);
        const xml = fs.readFileSync(path.join(cwd, 'out', 'test-results', 'device-junit.xml'), 'utf8');
        assert.match(xml, /<testcase classname="Pricing" name="monthly price &gt; adds tax"/);
    });

    it('npm run test:device reports FAIL with the failing test for a failing Rooibos build', async () => {
        const built = await buildChannel({ target: 'test', rootDir: rooibosProject('rooibos-fail', true), quiet: true });
        const ctx = captureContext(rokuEnv(roku, PASSWORD), tempDir('cwd'));
        const code = await testDevice(['--zip', built.zipPath, '--timeout', '90s', '--quiet'], ctx);
        assert.equal(code, 1, ctx.all());
        assert.match(ctx.out.join(''), /2 tests, 1 passed, 1 failed, 0 crashed, 0 ignored: FAIL/);
        assert.match(ctx.out.join(''), /✖ FAIL Pricing > monthly price > adds tax\n {6}.*120.*130|✖ FAIL Pricing > monthly price > adds tax\n {6}.*130.*120/);
    });
});
