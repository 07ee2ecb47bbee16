/**
 * npm run package (deterministic zips, build_version), npm run sign (the device's packager) and
 * npm run screenshot, against the fake Roku.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import JSZip from 'jszip';
import { startFakeRoku, type FakeRoku } from '../../emulators/roku/fake-roku';
import { signPackage, verifyPackage } from '../../emulators/roku/pkg';
import { FIXED_ZIP_DATE } from '../../scripts/lib/device';
import { buildNumber, run as packageRun, setBuildVersion } from '../../scripts/package';
import { run as screenshotRun } from '../../scripts/screenshot';
import { run as signRun } from '../../scripts/sign';
import { captureContext, cleanupTemp, fakeRunner, MANIFEST, PNG_1X1, rokuEnv, tempDir, writeChannel } from './support';

const PASSWORD = 'Pkg-Dev-Pw';
const SIGNING = 'Signing-Key-Pw-123';

function channelFolder(): string {
    return writeChannel(tempDir('channel'), {
        manifest: MANIFEST,
        'source/main.brs': 'sub main()\n    print "packaged"\nend sub\n',
        'source/util/strings.brs': 'function upper(s as string) as string\n    return UCase(s)\nend function\n',
        'components/Scene.xml': '<?xml version="1.0" encoding="utf-8" ?>\n<component name="MainScene" extends="Scene" />\n',
        'images/icon.png': PNG_1X1,
        '.DS_Store': 'junk',
        'source/main.brs.map': '{}'
    });
}

after(() => cleanupTemp());

describe('npm run package', { timeout: 60000 }, () => {
    it('same inputs give the same bytes, whatever the file dates and creation order', async () => {
        const a = channelFolder();
        const cwd = tempDir('cwd');
        const ctx1 = captureContext({ BUILD_NUMBER: '17' }, cwd);
        assert.equal(await packageRun(['--staging', a, '--out', 'first.zip'], ctx1), 0, ctx1.all());
        // The same files written again later, in another order, with other modification times.
        const b = writeChannel(tempDir('channel-b'), {
            'images/icon.png': PNG_1X1,
            'components/Scene.xml': fs.readFileSync(path.join(a, 'components/Scene.xml')),
            'source/util/strings.brs': fs.readFileSync(path.join(a, 'source/util/strings.brs')),
            'source/main.brs': fs.readFileSync(path.join(a, 'source/main.brs')),
            manifest: MANIFEST
        });
        const past = new Date('2011-05-06T07:08:09Z');
        fs.utimesSync(path.join(b, 'source/main.brs'), past, past);
        await new Promise((r) => setTimeout(r, 1100)); // a different second for DOS times
        const ctx2 = captureContext({ BUILD_NUMBER: '17' }, cwd);
        assert.equal(await packageRun(['--staging', b, '--out', 'second.zip'], ctx2), 0, ctx2.all());
        const first = fs.readFileSync(path.join(cwd, 'first.zip'));
        const second = fs.readFileSync(path.join(cwd, 'second.zip'));
        assert.ok(first.equals(second), 'identical bytes');
        const sha = /sha256 ([0-9a-f]{64})/.exec(ctx1.out.join(''))?.[1];
        assert.equal(sha, require('crypto').createHash('sha256').update(first).digest('hex'));

        const zip = await JSZip.loadAsync(first);
        const names = Object.keys(zip.files);
        assert.deepEqual(names, ['components/Scene.xml', 'images/icon.png', 'manifest', 'source/main.brs', 'source/util/strings.brs'], 'sorted, no folders, no junk');
        for (const entry of Object.values(zip.files)) {
            assert.equal(entry.date.getTime(), FIXED_ZIP_DATE.getTime(), `${entry.name} has the fixed date`);
        }
        // A different build number changes the bytes (the manifest differs).
        const ctx3 = captureContext({ BUILD_NUMBER: '18' }, cwd);
        assert.equal(await packageRun(['--staging', a, '--out', 'third.zip'], ctx3), 0);
        assert.equal(fs.readFileSync(path.join(cwd, 'third.zip')).equals(first), false);
    });

    it('sets build_version from BUILD_NUMBER, else GITHUB_RUN_NUMBER, else 0, and names the zip after title and version', async () => {
        const dir = channelFolder();
        const manifestOf = async (file: string) => (await JSZip.loadAsync(fs.readFileSync(file))).file('manifest')!.async('string');
        const cwd = tempDir('cwd');
        for (const [env, build] of [
            [{ BUILD_NUMBER: '42', GITHUB_RUN_NUMBER: '7' }, '42'],
            [{ GITHUB_RUN_NUMBER: '7' }, '7'],
            [{}, '0']
        ] as [NodeJS.ProcessEnv, string][]) {
            const ctx = captureContext(env, cwd);
            assert.equal(await packageRun(['--staging', dir], ctx), 0, ctx.all());
            const file = path.join(cwd, 'out', 'package', `device-test-2.3.${build}.zip`);
            assert.ok(fs.existsSync(file), ctx.all());
            const manifest = await manifestOf(file);
            assert.match(manifest, new RegExp(`^build_version=${build}$`, 'm'));
            assert.equal(manifest.match(/build_version=/g)?.length, 1);
        }
        const ctx = captureContext({ BUILD_NUMBER: '9' }, cwd);
        assert.equal(await packageRun(['--staging', dir, '--build-number', '1234'], ctx), 0);
        assert.match(await manifestOf(path.join(cwd, 'out', 'package', 'device-test-2.3.1234.zip')), /^build_version=1234$/m);
        // The source folder's manifest is untouched.
        assert.match(fs.readFileSync(path.join(dir, 'manifest'), 'utf8'), /^build_version=0$/m);
    });

    it('rejects a build number that is not a whole number', async () => {
        const ctx = captureContext({ BUILD_NUMBER: '12a' }, tempDir('cwd'));
        assert.equal(await packageRun(['--staging', channelFolder()], ctx), 2);
        assert.match(ctx.err.join(''), /BUILD_NUMBER must be a whole number for the manifest's build_version, not "12a"/);
        assert.throws(() => buildNumber('-1', {}), /--build-number must be a whole number/);
    });

    it('setBuildVersion replaces the line or adds one', () => {
        assert.equal(setBuildVersion('title=A\nbuild_version=00001\nx=1\n', '5'), 'title=A\nbuild_version=5\nx=1\n');
        assert.equal(setBuildVersion('title=A\r\nmajor_version=1', '3'), 'title=A\r\nmajor_version=1\r\nbuild_version=3\r\n');
    });

    it('re-packages a given zip the same way (--zip)', async () => {
        const cwd = tempDir('cwd');
        const dir = channelFolder();
        assert.equal(await packageRun(['--staging', dir, '--out', 'a.zip'], captureContext({ BUILD_NUMBER: '3' }, cwd)), 0);
        const ctx = captureContext({ BUILD_NUMBER: '3' }, cwd);
        assert.equal(await packageRun(['--zip', 'a.zip', '--out', 'b.zip'], ctx), 0, ctx.all());
        assert.ok(fs.readFileSync(path.join(cwd, 'a.zip')).equals(fs.readFileSync(path.join(cwd, 'b.zip'))));
    });
});

describe('npm run sign and npm run screenshot', { timeout: 60000 }, () => {
    let roku: FakeRoku;
    let zipPath: string;
    const fake = fakeRunner({ lines: ['running'], end: 'never', screenshot: PNG_1X1 });

    before(async () => {
        roku = await startFakeRoku({ password: PASSWORD, signingPassword: SIGNING, runner: fake.runner });
        const cwd = tempDir('pkg');
        assert.equal(await packageRun(['--staging', channelFolder(), '--out', 'channel.zip'], captureContext({ BUILD_NUMBER: '5' }, cwd)), 0);
        zipPath = path.join(cwd, 'channel.zip');
    });
    after(() => roku.close());

    it('signs with ROKU_SIGNING_PASSWORD: the downloaded .pkg verifies with that password and no other', async () => {
        const cwd = tempDir('cwd');
        const ctx = captureContext(rokuEnv(roku, PASSWORD, { ROKU_SIGNING_PASSWORD: SIGNING }), cwd);
        const code = await signRun(['--zip', zipPath], ctx);
        assert.equal(code, 0, ctx.all());
        const pkgFile = path.join(cwd, 'out', 'package', 'device-test-2.3.5.pkg');
        assert.match(ctx.out.join(''), /✔ out\/package\/device-test-2\.3\.5\.pkg {2}\d+ bytes {2}sha256 [0-9a-f]{64}/);
        const pkg = fs.readFileSync(pkgFile);
        const verified = verifyPackage(pkg, SIGNING);
        assert.equal(verified.ok, true, verified.reason);
        assert.equal(verified.trailer?.appName, 'Device Test/2.3');
        assert.ok(verified.zip?.equals(fs.readFileSync(zipPath)), 'the package holds the zip that was installed');
        assert.equal(verifyPackage(pkg, 'Signing-Key-Pw-124').ok, false);
        assert.doesNotMatch(ctx.all(), new RegExp(`${SIGNING}|${PASSWORD}`));
    });

    it('a wrong signing password fails with the device\'s reason, and prints no secret', async () => {
        const ctx = captureContext(rokuEnv(roku, PASSWORD, { ROKU_SIGNING_PASSWORD: 'Wrong-Signing' }), tempDir('cwd'));
        assert.equal(await signRun(['--zip', zipPath, '--out', 'x.pkg'], ctx), 1);
        const err = ctx.err.join('');
        assert.match(err, /^✖ the Roku refused to sign the package: Invalid Password\.\n/);
        assert.match(err, /must be the password of the key the Roku is keyed with/);
        assert.equal(fs.existsSync(path.join(ctx.cwd, 'x.pkg')), false);
        assert.doesNotMatch(ctx.all(), /Wrong-Signing|Pkg-Dev-Pw/);
    });

    it('a missing signing password is a usage error', async () => {
        const ctx = captureContext(rokuEnv(roku, PASSWORD), tempDir('cwd'));
        assert.equal(await signRun(['--zip', zipPath], ctx), 2);
        assert.match(ctx.err.join(''), /missing ROKU_SIGNING_PASSWORD/);
    });

    it('--rekey moves the device to another key first, after which that key signs', async () => {
        const other = 'Other-Key-Pw';
        const rekeyPkg = path.join(tempDir('rekey'), 'other.pkg');
        fs.writeFileSync(rekeyPkg, signPackage(fs.readFileSync(zipPath), { signingPassword: other, appName: 'Old/1.0', pkgTime: '1' }));
        const ctx = captureContext(rokuEnv(roku, PASSWORD, { ROKU_SIGNING_PASSWORD: other }), tempDir('cwd'));
        assert.equal(await signRun(['--zip', zipPath, '--rekey', rekeyPkg, '--out', 'signed.pkg'], ctx), 0, ctx.all());
        assert.equal(roku.signingPassword, other);
        assert.equal(verifyPackage(fs.readFileSync(path.join(ctx.cwd, 'signed.pkg')), other).ok, true);
        // Rekeying with a package that was not signed by the given password fails.
        const bad = captureContext(rokuEnv(roku, PASSWORD, { ROKU_SIGNING_PASSWORD: SIGNING }), tempDir('cwd'));
        assert.equal(await signRun(['--zip', zipPath, '--rekey', rekeyPkg], bad), 1);
        assert.match(bad.err.join(''), /^✖ the Roku refused to rekey: Invalid Password\./);
    });

    it('saves a screenshot of the running channel', async () => {
        const ctx = captureContext(rokuEnv(roku, PASSWORD), tempDir('cwd'));
        assert.equal(roku.running, true);
        assert.equal(await screenshotRun(['--out', 'shots/screen.png'], ctx), 0, ctx.all());
        const file = path.join(ctx.cwd, 'shots', 'screen.png');
        assert.ok(fs.readFileSync(file).equals(PNG_1X1));
        assert.match(ctx.out.join(''), /✔ shots\/screen\.png {2}\d+ bytes/);
    });

    it('screenshot fails clearly when no channel is running', async () => {
        const idle = await startFakeRoku({ password: PASSWORD });
        try {
            const ctx = captureContext(rokuEnv(idle, PASSWORD), tempDir('cwd'));
            assert.equal(await screenshotRun([], ctx), 1);
            assert.match(ctx.err.join(''), /^✖ no screenshot from 127\.0\.0\.1:\d+: Screenshot failed: no development application is running\.\n {4}a sideloaded channel must be running/);
        } finally {
            await idle.close();
        }
    });
});
