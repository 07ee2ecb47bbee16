/**
 * npm run test:device, end to end against the fake Roku, with runners that print what Rooibos,
 * a crash or the simulator's compiler print.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { startFakeRoku, type FakeRoku } from '../../emulators/roku/fake-roku';
import { run as testDevice } from '../../scripts/test-device';
import { rooibosOutput, type FixtureRun } from './rooibos-fixture';
import {
    brokenChannel,
    captureContext,
    cleanupTemp,
    fakeRunner,
    helloChannel,
    PASSING_RUN,
    purchaseFlowSuite,
    rokuEnv,
    SELECT_PLAN,
    tempDir,
    until,
    type FakeRunnerScript
} from './support';

const PASSWORD = 'T3st-Device-Pw';

const failing: FixtureRun = { suites: [purchaseFlowSuite(SELECT_PLAN.storesPlan, SELECT_PLAN.rejectsExpiredOffer)] };

const rokus: FakeRoku[] = [];
after(async () => {
    await Promise.all(rokus.map((r) => r.close()));
    cleanupTemp();
});

async function setup(script: FakeRunnerScript) {
    const fake = fakeRunner(script);
    const roku = await startFakeRoku({ password: PASSWORD, runner: fake.runner });
    rokus.push(roku);
    const cwd = tempDir('cwd');
    const channel = helloChannel(tempDir('channel'));
    return { roku, fake, cwd, channel, junit: path.join(cwd, 'out', 'test-results', 'device-junit.xml') };
}

const banner = ["------ Running dev 'Device Test' main ------", 'starting tests'];

describe('npm run test:device', { timeout: 120000 }, () => {
    it('PASS: streams the console, writes JUnit XML, presses Home at the end, exits 0', async () => {
        const { roku, cwd, channel, junit } = await setup({ lines: [...banner, ...rooibosOutput(PASSING_RUN)], end: 'never' });
        const ctx = captureContext(rokuEnv(roku, PASSWORD), cwd);
        const code = await testDevice(['--staging', channel], ctx);
        assert.equal(code, 0, ctx.all());
        const out = ctx.out.join('');
        assert.match(out, /\[Rooibos Result\]: PASS\n/, 'the console is streamed');
        assert.match(out, /Rooibos on 127\.0\.0\.1:\d+: 3 tests, 3 passed, 0 failed, 0 crashed, 0 ignored: PASS/);
        assert.match(out, /✔ all tests passed/);
        const xml = fs.readFileSync(junit, 'utf8');
        assert.match(xml, /<testsuites name="device" tests="3" failures="0" errors="0"/);
        assert.match(xml, /<testcase classname="PurchaseFlow" name="selectPlan &gt; stores the chosen plan" file="file:\/\/pkg:\/source\/tests\/PurchaseFlow\.spec\.brs:12"\/>/);
        await until(() => roku.keypresses.includes('Home'), 30000, 'Home');
        assert.equal(roku.running, false);
        assert.doesNotMatch(ctx.all(), new RegExp(PASSWORD));
    });

    it('FAIL: lists the failing test with its message, JUnit has the failure, exits 1', async () => {
        const { roku, cwd, channel, junit } = await setup({ lines: [...banner, ...rooibosOutput(failing)], end: 'never' });
        const ctx = captureContext(rokuEnv(roku, PASSWORD), cwd);
        const code = await testDevice(['--staging', channel, '--quiet', '--junit', 'reports/junit.xml'], ctx);
        assert.equal(code, 1, ctx.all());
        const out = ctx.out.join('');
        assert.doesNotMatch(out, /\[START TEST REPORT\]/, '--quiet does not echo the console');
        assert.match(out, /2 tests, 1 passed, 1 failed, 0 crashed, 0 ignored: FAIL/);
        assert.match(out, /✖ FAIL PurchaseFlow > selectPlan > rejects an expired offer\n {6}expected "expired" to equal "active"\n/);
        assert.match(ctx.err.join(''), /✖ Rooibos reported FAIL/);
        assert.equal(fs.existsSync(junit), false, '--junit moves the report');
        const xml = fs.readFileSync(path.join(cwd, 'reports', 'junit.xml'), 'utf8');
        assert.match(xml, /<failure type="FAIL" message="expected &quot;expired&quot; to equal &quot;active&quot;">/);
        assert.match(xml, /\(1 passing tests not listed by Rooibos\)/);
    });

    it('a crash outside a test fails with the device\'s runtime error line', async () => {
        const { roku, cwd, channel, junit } = await setup({
            lines: [
                ...banner,
                "[error] pkg:/source/main.brs(4,10-13): 'Dot' Operator attempted with invalid BrightScript Component or interface reference.",
                'BackTrace:',
                '#0  Function main() As Void',
                '   file/line: pkg:/source/main.brs(4)',
                '',
                '[beacon] 11-22 07:26:56.797 [beacon.report] |AppExitComplete'
            ],
            end: 'crash'
        });
        const ctx = captureContext(rokuEnv(roku, PASSWORD), cwd);
        assert.equal(await testDevice(['--staging', channel], ctx), 1);
        const err = ctx.err.join('');
        assert.match(
            err,
            /^✖ the test channel crashed outside a test: 'Dot' Operator attempted with invalid BrightScript Component or interface reference\. \(runtime error &hec\) in pkg:\/source\/main\.brs\(4\)\n/
        );
        assert.match(err, /\n {4}Backtrace:\n {4}#0 {2}Function main\(\) As Void\n/);
        assert.match(fs.readFileSync(junit, 'utf8'), /<error type="crash" message="the channel crashed: &apos;Dot&apos; Operator/);
    });

    it('a zip that does not compile fails with the device\'s compile lines', async () => {
        const { roku, cwd, fake, junit } = await setup({ lines: ['never printed'] });
        const ctx = captureContext(rokuEnv(roku, PASSWORD), cwd);
        assert.equal(await testDevice(['--staging', brokenChannel(tempDir('broken'))], ctx), 1);
        assert.match(ctx.err.join(''), /^✖ the Roku could not compile the channel/);
        assert.match(ctx.err.join(''), /--- Syntax Error\. \(compile error &h02\) in pkg:\/source\/main\.brs\(3\)/);
        assert.equal(fake.calls.length, 0, 'nothing ran');
        assert.match(fs.readFileSync(junit, 'utf8'), /<error type="compile"/);
    });

    it('a compile error reported by the runner after install also fails, in the device\'s form', async () => {
        const { roku, cwd, channel } = await setup({
            lines: ["[error] pkg:/source/tests/Gen.brs(7,3-9): Syntax Error. (compile error &h2) Found unexpected token 'end'"],
            end: 'compile-error'
        });
        const ctx = captureContext(rokuEnv(roku, PASSWORD), cwd);
        assert.equal(await testDevice(['--staging', channel], ctx), 1);
        const err = ctx.err.join('');
        assert.match(err, /^✖ the test channel did not compile on the device: --- Syntax Error\. \(compile error &h02\) in pkg:\/source\/tests\/Gen\.brs\(7\)/);
        assert.match(err, /\n {4} {6}Found unexpected token 'end'\n/);
        assert.match(err, /\n {4}\*\*\* ERROR compiling dev 'Device Test': Compilation Failed\.\n/);
    });

    it('times out with --timeout, showing the last console lines', async () => {
        const { roku, cwd, channel, junit } = await setup({ lines: [...banner, 'waiting for a server that never answers'], end: 'never' });
        const ctx = captureContext(rokuEnv(roku, PASSWORD), cwd);
        const started = Date.now();
        assert.equal(await testDevice(['--staging', channel, '--timeout', '1500ms'], ctx), 1);
        const elapsed = Date.now() - started;
        assert.ok(elapsed >= 1500 && elapsed < 120000, `took ${elapsed} ms: --timeout, not the 300 s default`);
        const err = ctx.err.join('');
        assert.match(err, /^✖ no Rooibos result after 1\.5 s \(raise --timeout or ROKU_TEST_TIMEOUT\); last console lines:\n/);
        assert.match(err, / {4}waiting for a server that never answers\n/);
        assert.match(fs.readFileSync(junit, 'utf8'), /<error type="timeout" message="no Rooibos result after 1\.5 s">/);
    });

    it('reads the timeout from ROKU_TEST_TIMEOUT (seconds) and rejects a bad value', async () => {
        const { roku, cwd, channel } = await setup({ lines: banner, end: 'never' });
        const ctx = captureContext(rokuEnv(roku, PASSWORD, { ROKU_TEST_TIMEOUT: '1' }), cwd);
        assert.equal(await testDevice(['--staging', channel], ctx), 1);
        assert.match(ctx.err.join(''), /no Rooibos result after 1 s/);
        const bad = captureContext(rokuEnv(roku, PASSWORD, { ROKU_TEST_TIMEOUT: 'soon' }), cwd);
        assert.equal(await testDevice(['--staging', channel], bad), 2);
        assert.match(bad.err.join(''), /timeout \(--timeout \/ ROKU_TEST_TIMEOUT\) must be a duration/);
    });

    it('fails before installing anything when the console is in use', async () => {
        const { roku, cwd, channel, fake } = await setup({ lines: rooibosOutput(PASSING_RUN) });
        const holder = net.connect(roku.ports.console, '127.0.0.1');
        await until(() => roku.consoleConnected, 30000, 'the holder to own the console');
        try {
            const ctx = captureContext(rokuEnv(roku, PASSWORD), cwd);
            assert.equal(await testDevice(['--staging', channel], ctx), 1);
            assert.match(
                ctx.err.join(''),
                /^✖ the Roku's console \(127\.0\.0\.1:\d+\) is already in use by another client: close the other telnet session or VS Code debug session, then retry\n$/
            );
            assert.equal(roku.installed, undefined);
            assert.equal(fake.calls.length, 0);
        } finally {
            holder.destroy();
        }
    });

    it('Rooibos running 0 tests fails unless --allow-no-tests', async () => {
        const empty = rooibosOutput({ suites: [] });
        const { roku, cwd, channel } = await setup({ lines: empty, end: 'never' });
        const ctx = captureContext(rokuEnv(roku, PASSWORD), cwd);
        assert.equal(await testDevice(['--staging', channel, '--quiet'], ctx), 1);
        assert.match(ctx.err.join(''), /Rooibos ran 0 tests/);
        const ok = captureContext(rokuEnv(roku, PASSWORD), cwd);
        assert.equal(await testDevice(['--staging', channel, '--quiet', '--allow-no-tests'], ok), 0, ok.all());
    });
});
